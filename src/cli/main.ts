/**
 * The executable's entry. `--version` is answered from here: provisioning scripts call it on
 * every node, often several times, and loading every command first would triple its time.
 * Everything else loads the commands (dispatch.ts).
 */
import { asksOnlyVersion, versionLine } from "./version.ts";

/** False when the line cannot be made (a bad BYTETIDE_HASHER): dispatch then reports it as any error. */
function printedVersion(): boolean {
  try {
    console.log(versionLine());
    return true;
  } catch {
    return false;
  }
}

const argv = process.argv.slice(2);
if (!asksOnlyVersion(argv) || !printedVersion()) {
  const { main } = await import("./dispatch.ts");
  process.exitCode = await main(argv);
}
