import packageJson from "../../package.json" with { type: "json" };
import { hasher } from "../hash/index.ts";

export const VERSION: string = packageJson.version;

export const versionLine = (): string => `bytetide ${VERSION} (hasher: ${hasher().description}; bun ${Bun.version})`;

/** `bytetide --version` (or -V, or version) and nothing after it: answered without loading the commands. */
export const asksOnlyVersion = (argv: string[]): boolean => argv.length === 1 && ["--version", "-V", "version"].includes(argv[0]!);
