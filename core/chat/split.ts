// Splitting what we say into what a platform accepts in one message: texts longer than its limit, and @-mentions
// beyond the account's cap. Counts code points, never UTF-16 units, so an emoji is never cut in half.

export interface OutboundPart {
  text: string;
  mentions: string[];
}

/** Splits at line breaks where possible, else at the limit; every part is at most `max` code points. */
export function splitText(text: string, max: number): string[] {
  const chars = Array.from(text);
  if (chars.length <= max) return [text];
  const parts: string[] = [];
  let start = 0;
  while (start < chars.length) {
    let end = Math.min(start + max, chars.length);
    if (end < chars.length) {
      // Prefer the last line break in the second half of the window, so parts stay readable.
      for (let i = end; i > start + Math.floor(max / 2); i--) {
        if (chars[i - 1] === "\n") {
          end = i;
          break;
        }
      }
    }
    parts.push(chars.slice(start, end).join("").replace(/\n+$/, ""));
    start = end;
  }
  return parts.filter((p) => p.length > 0);
}

/** The messages one delivery becomes: text parts (mentions ride on the first), then extra mention batches. */
export function outboundParts(body: string, mentions: string[], maxText: number, maxMentions: number): OutboundPart[] {
  const texts = splitText(body, maxText);
  const cap = Math.max(1, maxMentions);
  const batches: string[][] = [];
  for (let i = 0; i < mentions.length; i += cap) batches.push(mentions.slice(i, i + cap));
  const parts: OutboundPart[] = texts.map((text, i) => ({ text, mentions: i === 0 ? (batches[0] ?? []) : [] }));
  const header = Array.from(texts[0].split("\n")[0]).slice(0, 40).join("");
  for (const batch of batches.slice(1)) parts.push({ text: `${header}（续）`, mentions: batch });
  return parts;
}
