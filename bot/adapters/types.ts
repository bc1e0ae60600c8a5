// The outbound port every platform adapter implements.

import type { ChatChannel, ChatMessage } from "../../core/chat/message.ts";

export type { ChatChannel, ChatMessage, Conversation } from "../../core/chat/message.ts";

export type SendTarget = { kind: "group"; groupId: string } | { kind: "private"; userId: string };

export interface ChatAdapter {
  readonly channel: ChatChannel;
  readonly account: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  onMessage(handler: (message: ChatMessage) => Promise<void>): void;
  /** Resolves when the platform accepted the message; throws a SendError otherwise. */
  send(target: SendTarget, text: string): Promise<{ platformMessageId?: string }>;
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
