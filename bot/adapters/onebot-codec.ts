// OneBot v11 messages, both ways: the segment array ({type, data}) and the string form with CQ codes
// ([CQ:at,qq=123]), with the escaping of botuniverse/onebot-11 message/string.md:
//   in text:            & → &amp;   [ → &#91;   ] → &#93;
//   in a CQ parameter:  the same, and , → &#44;
// Decoding undoes exactly these (and only after the code has been cut out, so an escaped "[" in text never becomes a
// code). Nothing here knows about our commands; the adapter turns segments into a ChatMessage.

export interface Segment {
  type: string;
  data: Record<string, unknown> | null;
}

export const escapeText = (s: string) => s.replace(/&/g, "&amp;").replace(/\[/g, "&#91;").replace(/\]/g, "&#93;");
export const escapeParam = (s: string) => escapeText(s).replace(/,/g, "&#44;");
/** One pass, so "&amp;#91;" decodes to "&#91;" (text that really contained it), never to "[". */
export const unescapeCq = (s: string) =>
  s.replace(/&(amp|#91|#93|#44);/g, (_, e: string) => (e === "amp" ? "&" : e === "#91" ? "[" : e === "#93" ? "]" : ","));

const CQ_CODE = /\[CQ:([A-Za-z0-9_.-]+)((?:,[^,\]]*)*)\]/g;

/** The string form as segments: text between codes (unescaped), each code with its parameters (unescaped). */
export function parseCq(message: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const m of message.matchAll(CQ_CODE)) {
    if (m.index > last) out.push({ type: "text", data: { text: unescapeCq(message.slice(last, m.index)) } });
    const data: Record<string, string> = {};
    for (const kv of m[2].split(",").slice(1)) {
      const eq = kv.indexOf("=");
      if (eq < 0) data[unescapeCq(kv)] = "";
      else data[unescapeCq(kv.slice(0, eq))] = unescapeCq(kv.slice(eq + 1));
    }
    out.push({ type: m[1], data });
    last = m.index + m[0].length;
  }
  if (last < message.length) out.push({ type: "text", data: { text: unescapeCq(message.slice(last)) } });
  return out;
}

/** Segments in the string form (for logs and for implementations configured to take strings). */
export function toCq(segments: Segment[]): string {
  return segments
    .map((s) => {
      if (s.type === "text") return escapeText(String(s.data?.text ?? ""));
      const params = Object.entries(s.data ?? {})
        .filter(([, v]) => v !== undefined && v !== null)
        .map(([k, v]) => `,${escapeParam(k)}=${escapeParam(typeof v === "string" ? v : JSON.stringify(v))}`)
        .join("");
      return `[CQ:${s.type}${params}]`;
    })
    .join("");
}

/** A message field as sent by the implementation: a string (CQ codes), a segment array, or one segment. */
export function toSegments(message: unknown): Segment[] {
  if (typeof message === "string") return parseCq(message);
  if (Array.isArray(message)) return message.filter((s): s is Segment => !!s && typeof s === "object" && typeof (s as Segment).type === "string");
  if (message && typeof message === "object" && typeof (message as Segment).type === "string") return [message as Segment];
  return [];
}

export interface Inbound {
  /** Text segments joined, @-mentions cut out, spaces tidied (what a command parser reads). */
  text: string;
  /** QQ numbers @-mentioned, without the bot and without @全体成员. */
  mentions: string[];
  mentionsMe: boolean;
  /** Pictures: where to fetch them (url, or file when it is an address). */
  images: { url?: string; file?: string }[];
}

const str = (v: unknown) => (v === undefined || v === null ? "" : String(v));

export function readSegments(segments: Segment[], selfId: string | undefined): Inbound {
  const parts: string[] = [];
  const mentions: string[] = [];
  let mentionsMe = false;
  const images: Inbound["images"] = [];
  for (const s of segments) {
    const d = s.data ?? {};
    switch (s.type) {
      case "text":
        parts.push(str(d.text));
        break;
      case "at": {
        const qq = str(d.qq);
        if (selfId && qq === selfId) mentionsMe = true;
        else if (qq && qq !== "all" && !mentions.includes(qq)) mentions.push(qq);
        parts.push(" ");
        break;
      }
      case "image":
        images.push({ url: str(d.url) || undefined, file: str(d.file) || undefined });
        break;
      default:
        break; // reply, face, json … carry nothing a command reads
    }
  }
  const text = parts
    .join("")
    .split("\n")
    .map((l) => l.replace(/[ \t\u3000]+/g, " ").trim())
    .join("\n")
    .trim();
  return { text, mentions, mentionsMe, images };
}

/** What we send: @-mentions first (each followed by a space, as QQ clients do), then the text. */
export function outboundSegments(text: string, mentions: string[] = [], opts: { replyTo?: string; image?: string } = {}): Segment[] {
  const out: Segment[] = [];
  if (opts.replyTo) out.push({ type: "reply", data: { id: opts.replyTo } });
  for (const qq of mentions) out.push({ type: "at", data: { qq } }, { type: "text", data: { text: " " } });
  if (text) out.push({ type: "text", data: { text: mentions.length ? text.replace(/^\s+/, "") : text } });
  if (opts.image) out.push({ type: "image", data: { file: opts.image } });
  // Merge the space after the last mention into the text, so the message is [at, " ", at, " text"].
  const merged: Segment[] = [];
  for (const s of out) {
    const prev = merged[merged.length - 1];
    if (s.type === "text" && prev?.type === "text") prev.data = { text: str(prev.data?.text) + str(s.data?.text) };
    else merged.push({ ...s, data: s.data ? { ...s.data } : null });
  }
  return merged;
}
