// Small pieces the chat command modules share.
import type { CommandReply } from "./commands.ts";

/** What separates a command's arguments: ASCII and full-width (ideographic) spaces. */
export const WORDS = /[\s\u3000]+/u;

/** One reply to the sender in private chat (receipts, ticket details, cadre work: never repeated in the group). */
export const privately = (text: string): CommandReply[] => [{ text, to: "sender" }];
