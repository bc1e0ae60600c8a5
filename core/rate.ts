/** n / d rounded to four decimals (a rate as the reports show it: 0.4286); null when there is nothing to divide by. */
export const ratio = (n: number, d: number): number | null => (d === 0 ? null : Math.round((n / d) * 10_000) / 10_000);
