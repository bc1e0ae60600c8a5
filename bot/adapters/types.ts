// The outbound port every platform adapter implements.

import type { ChatChannel, ChatMessage, ChatPerson, GroupEvent } from "../../core/chat/message.ts";

export type { ChatChannel, ChatImage, ChatMessage, ChatPerson, Conversation, GroupEvent } from "../../core/chat/message.ts";

export type SendTarget = { kind: "group"; groupId: string } | { kind: "private"; userId: string };

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
  isOnline(): boolean;
}

/** Failure classes the sender acts on: retry later, wait for login, back off hard, or give up. */
export type SendFailure = "transient" | "offline" | "rate_limited" | "not_found" | "permanent";

export class SendError extends Error {
  constructor(
    readonly failure: SendFailure,
    message: string,
  ) {
    super(message);
  }
}
