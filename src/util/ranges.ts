/** [1,2,3,7,9,10] -> [[1,3],[7,7],[9,10]]: runs of consecutive numbers, for --json. */
export function ranges(sorted: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    runs.push([sorted[i]!, sorted[j]!]);
    i = j + 1;
  }
  return runs;
}

/** [1,2,3,7,9,10] -> "1-3, 7, 9-10": compact enough to list every bad chunk of a large package. */
export function formatRanges(sorted: readonly number[]): string {
  return ranges(sorted)
    .map(([first, last]) => (first === last ? `${first}` : `${first}-${last}`))
    .join(", ");
}
