// The simulated WeChat of bot/adapters/wechaty-mock.ts with the platform's refusals added: WeChat answering a send
// with "发送消息过于频繁" (risk control) or a network error. Only the platform side is scripted; the bot talks to it
// through the real Wechaty stack.
import type { PuppetMock } from "wechaty-puppet-mock";
import { MockWechat } from "../../bot/adapters/wechaty-mock.ts";

interface Refusal {
  conversationId: string;
  message: string;
  times: number;
}

/**
 * MockWechat whose platform can refuse sends: the puppet's messageSendText (the platform's "send text" call) throws
 * what WeChat would, for a chosen conversation, a number of times. (A PuppetMock subclass cannot be used here: a
 * Mocker takes exactly one puppet, and MockWechat has already given it one; so the same method is overridden on that
 * puppet instance.)
 */
export class RefusingWechat extends MockWechat {
  private refusals: Refusal[] = [];
  /** Every send that reached the platform (also the refused ones), in order. */
  readonly attempts: { conversationId: string; text: string; refused: boolean }[] = [];

  constructor(botName?: string) {
    super(botName);
    const puppet: PuppetMock = this.puppet;
    const send = puppet.messageSendText.bind(puppet);
    puppet.messageSendText = async (conversationId: string, text: string) => {
      const refusal = this.refusals.find((r) => r.conversationId === conversationId && r.times > 0);
      this.attempts.push({ conversationId, text, refused: !!refusal });
      if (refusal) {
        refusal.times--;
        throw new Error(refusal.message);
      }
      return send(conversationId, text);
    };
  }

  /** The platform answers the next `times` sends to the conversation with an error saying `message`. */
  refuse(conversationId: string, message: string, times = 1) {
    this.refusals.push({ conversationId, message, times });
  }
}

/**
 * The platform delivers one room message to two of our accounts in the group: each account gets its own message id,
 * with the same talker, text and server timestamp (what WeChat does when two bot accounts sit in the same room).
 */
export function sayThroughBoth(a: MockWechat, b: MockWechat, who: string, text: string, roomId: string): [string, string] {
  const idA = a.say(who, text, roomId);
  const payload = a.mocker.cacheMessagePayload.get(idA);
  if (!payload) throw new Error(`no payload for ${idA}`);
  const idB = `${idA}-b`;
  b.mocker.MessageMock.create({ ...payload, id: idB });
  b.puppet.emit("message", { messageId: idB });
  return [idA, idB];
}
