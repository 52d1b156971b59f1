/** Resolves with the name of the first SIGINT or SIGTERM received. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (name: string) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(name);
    };
    const onInt = () => on("SIGINT");
    const onTerm = () => on("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  });
}
