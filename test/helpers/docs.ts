/**
 * What a Markdown document shows: the commands in its ```sh and ```console blocks (with
 * the output a console block prints under each), and the command synopses in its
 * headings. Tests run these as written, so the docs cannot drift from what is tested.
 */

export interface DocCommand {
  /** The command line as shown, without a `$ ` prompt or a trailing `# comment`. */
  command: string;
  /** That trailing comment's text, if any. */
  comment: string;
  /** Lines a ```console block shows after it, up to the next command or blank line. */
  output: string[];
  line: number;
}

const COMMENT = /(^|\s)#(\s.*)?$/;
const stripComment = (line: string): string => line.replace(COMMENT, "").trim();
const commentOf = (line: string): string => COMMENT.exec(line)?.[2]?.trim() ?? "";

export function documentedCommands(markdown: string): DocCommand[] {
  const found: DocCommand[] = [];
  let lang: string | null = null;
  let current: DocCommand | null = null;
  markdown.split("\n").forEach((raw, index) => {
    const fence = /^```(\w*)\s*$/.exec(raw);
    if (fence) {
      lang = lang === null ? fence[1]! : null;
      current = null;
      return;
    }
    if (lang === "sh" || lang === "bash") {
      const command = stripComment(raw);
      if (command !== "") found.push({ command, comment: commentOf(raw), output: [], line: index + 1 });
    } else if (lang === "console") {
      if (raw.startsWith("$ ")) {
        current = { command: stripComment(raw.slice(2)), comment: commentOf(raw.slice(2)), output: [], line: index + 1 };
        found.push(current);
      } else if (raw.trim() === "") current = null;
      else current?.output.push(raw);
    }
  });
  return found;
}

/** The `bytetide ...` synopses written in headings, e.g. "bytetide verify <pkg.bpkg> [path]". */
export function headingSynopses(markdown: string): string[] {
  return markdown
    .split("\n")
    .filter((l) => /^#{2,6} /.test(l))
    .flatMap((l) => [...l.matchAll(/`(bytetide [^`]*)`/g)].map((m) => m[1]!));
}

/** The flags a synopsis names: "-o", "--chunk-size", ... */
export const synopsisFlags = (synopsis: string): string[] => [...new Set(synopsis.match(/(?<![\w-])--?[a-z][\w-]*/g) ?? [])];

/** The text of a section: from its heading (found by a prefix) to the next heading. */
export function section(markdown: string, headingPrefix: string): string {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => l.startsWith(headingPrefix));
  if (start < 0) throw new Error(`no heading starting with ${headingPrefix}`);
  const end = lines.findIndex((l, i) => i > start && /^#{1,6} /.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const UNIT = "(?:B|KiB|MiB|GiB|TiB)";

/**
 * A pattern for the lines a sample output line stands for: the words and key names as
 * written, any timestamp, clock time, number, size, duration or abbreviated root in their places.
 */
export function lineShape(sample: string): RegExp {
  const token = (t: string): string => {
    if (/^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(t)) return "\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z";
    // A clock time (an ETA) of minutes or of hours: 00:41 stands for 14:41:00 too.
    if (/^\d+(?::\d\d)+$/.test(t)) return "\\d+(?::\\d\\d)+";
    const kv = /^([a-z_]+)=/.exec(t);
    if (kv) return `${kv[1]}=\\S+`;
    if (/^[0-9a-f]{4,}\.\.\.$/.test(t)) return "[0-9a-f]{64}";
    return escape(t)
      .replace(new RegExp(`\\b${UNIT}\\b`, "g"), UNIT)
      .replace(/\d+(?:\\\.\d+)?/g, "[\\d.]+");
  };
  const body = sample.trim().split(/\s+/).map(token).join("\\s+");
  return new RegExp(`^\\s*${body}\\s*$`, "m");
}

/**
 * A sample NDJSON line as the event it stands for: `"..."` values and a trailing `,...}`
 * mean "more of the same" and are left out.
 */
export function sampleEvent(sample: string): Record<string, unknown> {
  return JSON.parse(sample.replace(/,\.\.\.\}\s*$/, "}")) as Record<string, unknown>;
}

/**
 * Why no actual event matches the sample (same event and state, every key of the sample
 * with a value of the same type, the same value where the sample's is not elided), or null.
 */
export function eventMismatch(sample: Record<string, unknown>, actual: Record<string, unknown>[]): string | null {
  const candidates = actual.filter((e) => e.event === sample.event && (sample.state === undefined || e.state === sample.state));
  if (candidates.length === 0) return `no "${sample.event}"${sample.state ? `/${sample.state}` : ""} event`;
  const problems = candidates.map((e) => {
    const wrong = Object.entries(sample).flatMap(([k, v]) => {
      if (!(k in e)) return [`${k} missing`];
      if (typeof e[k] !== typeof v) return [`${k} is ${typeof e[k]}, the sample shows ${typeof v}`];
      if (["event", "state", "command", "direction", "verified"].includes(k) && e[k] !== v) return [`${k} is ${String(e[k])}`];
      return [];
    });
    return wrong.join(", ");
  });
  return problems.includes("") ? null : `"${sample.event}" events differ from the sample: ${problems.join(" / ")}`;
}
