export interface Command {
  name: string;
  summary: string;
  help: string;
  /** Returns the exit code; failures throw BtError. */
  run(argv: string[]): Promise<number>;
}
