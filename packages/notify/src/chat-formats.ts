import { truncate } from './format.ts';
import type { ChatTone, ChatUpdate } from './chat.ts';

/**
 * A chat update in the incoming-webhook JSON of Slack (`text` + Block Kit `blocks`) and of Discord
 * (`content` + one embed). Both formats keep to their documented size limits; text from events is
 * escaped so that it cannot mention a channel or everyone.
 */

export const ChatFormats = ['slack', 'discord'] as const;
export type ChatFormat = (typeof ChatFormats)[number];

const icons: Record<ChatTone, string> = { ok: '✅', warning: '⚠️', critical: '🚨', info: 'ℹ️' };
const discordColors: Record<ChatTone, number> = { ok: 0x2eb67d, warning: 0xecb22e, critical: 0xe01e5a, info: 0x36c5f0 };

export type SlackTextObject = { type: 'mrkdwn'; text: string };
export type SlackBlock = { type: 'section'; text: SlackTextObject } | { type: 'section'; fields: SlackTextObject[] } | { type: 'context'; elements: SlackTextObject[] };
export type SlackMessage = { text: string; blocks: SlackBlock[] };

export type DiscordEmbed = {
  title: string;
  description: string;
  color: number;
  fields: Array<{ name: string; value: string; inline: boolean }>;
  timestamp: string;
  footer: { text: string };
};
export type DiscordMessage = { content: string; embeds: DiscordEmbed[]; allowed_mentions: { parse: string[] } };

/** Slack's mrkdwn control characters (&, <, >) as entities: `<!channel>` in an event stays text. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function slackMessage(update: ChatUpdate): SlackMessage {
  const blocks: SlackBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: truncate(`*${escapeSlack(update.title)}*\n${escapeSlack(update.text)}`, 3000) } }];
  if (update.fields.length > 0) {
    blocks.push({ type: 'section', fields: update.fields.slice(0, 10).map((f) => ({ type: 'mrkdwn', text: truncate(`*${escapeSlack(f.label)}*\n${escapeSlack(f.value)}`, 2000) })) });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `incident \`${escapeSlack(update.incidentId)}\` · ${update.time}` }] });
  return { text: truncate(`${icons[update.tone]} ${escapeSlack(update.title)}`, 3000), blocks };
}

export function discordMessage(update: ChatUpdate): DiscordMessage {
  return {
    content: truncate(`${icons[update.tone]} ${update.title}`, 2000),
    embeds: [
      {
        title: truncate(update.title, 256),
        description: truncate(update.text, 4096),
        color: discordColors[update.tone],
        fields: update.fields.slice(0, 25).map((f) => ({ name: truncate(f.label, 256), value: truncate(f.value, 1024), inline: true })),
        timestamp: update.time,
        footer: { text: truncate(`incident ${update.incidentId}`, 2048) },
      },
    ],
    allowed_mentions: { parse: [] },
  };
}

export function chatMessage(update: ChatUpdate, format: ChatFormat): SlackMessage | DiscordMessage {
  return format === 'slack' ? slackMessage(update) : discordMessage(update);
}
