// The one inbound shape every platform adapter produces. Nothing above bot/adapters/ knows which platform it was.

export type ChatChannel = "WECHAT" | "QQ";

export type Conversation =
  | { kind: "group"; groupId: string; topic?: string }
  | { kind: "private" };

/** A picture someone sent in a chat. Downloading costs time and memory, so only a flow that wants it calls fetch(). */
export interface ChatImage {
  /**
   * Downloads the picture (once: later calls share the result). `mime` comes from the bytes when they are an image
   * we recognise, else from the platform. Throws 413 FILE_TOO_LARGE past the adapter's cap (UPLOAD_MAX_BYTES).
   */
  fetch(): Promise<{ data: Buffer; mime: string; name: string }>;
}

export interface ChatMessage {
  /** What was sent; absent means "text". An image has `text` "", no mentions, and `image`. */
  kind?: "text" | "image";
  /** Present exactly when kind is "image". */
  image?: ChatImage;
  channel: ChatChannel;
  /** Our bot account name (BotAccount.name). */
  account: string;
  conversation: Conversation;
  sender: { platformUserId: string; displayName: string };
  text: string;
  /** Platform user ids mentioned in the message, not counting the bot itself (that is `mentionsMe`). */
  mentions: string[];
  mentionsMe: boolean;
  /** Absent when the platform gives none; dedup then falls back to a content hash. */
  platformMessageId?: string;
  at: Date;
}

export type ChatRole = "COUNTY_ADMIN" | "TOWN_ADMIN" | "BRANCH_SECRETARY" | "MEMBER" | "GUEST";

export interface ChatPerson {
  platformUserId: string;
  displayName: string;
}

/** Room events that keep the group roster current. `bot_joined` / `bot_removed` concern our own account. */
export interface GroupEvent {
  channel: ChatChannel;
  account: string;
  groupId: string;
  kind: "bot_joined" | "bot_removed" | "members_joined" | "members_left" | "topic_changed";
  members: ChatPerson[];
  topic?: string;
  at: Date;
}
