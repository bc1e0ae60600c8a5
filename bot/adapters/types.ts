// The outbound port every platform adapter implements.

import type { ChatChannel, ChatMessage, ChatPerson, GroupEvent } from "../../core/chat/message.ts";

export type { ChatChannel, ChatImage, ChatMessage, ChatPerson, Conversation, GroupEvent } from "../../core/chat/message.ts";

/** An account's login as the platform reports it (the bot stores it on BotAccount for operators). */
export interface LoginState {
  status: "NEED_LOGIN" | "ONLINE" | "OFFLINE";
  qr?: string;
  selfId?: string;
  selfName?: string;
  /** Why an account went offline ("heartbeat": the link fell silent; "disconnected"; "qq-offline"; "stopped"). */
  reason?: string;
}

export type SendTarget = { kind: "group"; groupId: string } | { kind: "private"; userId: string };

/** A file the bot sends: its name as the chat shows it, its type when known, and the bytes. */
export interface OutgoingFile {
  name: string;
  mimeType?: string;
  /** "image" is shown inline as a picture; "file" as a document to download. */
  kind?: "image" | "file";
  data: Buffer;
}

export interface ChatAdapter {
  readonly channel: ChatChannel;
  readonly account: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  onMessage(handler: (message: ChatMessage) => Promise<void>): void;
  onGroupEvent(handler: (event: GroupEvent) => Promise<void>): void;
  /** The group's current members as the platform sees them (for roster reconciliation), without the bot. */
  groupMembers(groupId: string): Promise<ChatPerson[]>;
  /** Groups this account is in right now (re-resolved after each login: ids may change per login). */
  groups(): Promise<{ groupId: string; topic: string }[]>;
  /** Longest text the platform takes in one message; the sender splits longer ones. */
  readonly maxTextLength: number;
  /** Resolves when the platform accepted the message; throws a SendError otherwise. */
  send(target: SendTarget, text: string, opts?: { mentions?: string[] }): Promise<{ platformMessageId?: string }>;
  /**
   * Sends a picture or document (a county broadcast's attachment); throws a SendError like send(). Optional: the
   * sender fails a delivery that carries a file through an adapter without it ("unsupported"), never drops the file.
   */
  sendFile?(target: SendTarget, file: OutgoingFile): Promise<{ platformMessageId?: string }>;
  isOnline(): boolean;
  /** Login changes, for adapters that report them after construction (OneBot); Wechaty takes it as an option. */
  onLoginState?(handler: (state: LoginState) => void): void;
}

/**
 * Failure classes the sender acts on: retry later, wait for login, back off hard, or give up. "unsupported": this
 * adapter cannot send what the delivery carries (a file without sendFile): failed for good, the group stays reachable.
 */
export type SendFailure = "transient" | "offline" | "rate_limited" | "not_found" | "permanent" | "unsupported";

export class SendError extends Error {
  constructor(
    readonly failure: SendFailure,
    message: string,
  ) {
    super(message);
  }
}
