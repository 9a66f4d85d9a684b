import { fitText, fitTogether, type TextPiece } from './format.ts';
import type { ChatTone, ChatUpdate } from './chat.ts';

/**
 * A chat update in the incoming-webhook JSON of Slack (`text` + Block Kit `blocks`) and of Discord
 * (`content` + one embed). Both keep to every documented limit of their format, totals included,
 * whatever the update's text (format.ts: made safe, cut at a code point boundary before escaping);
 * text from events is escaped so that it cannot mention a channel or everyone.
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
  /** Absent when the update has no text (Discord refuses an empty one). */
  description?: string;
  color: number;
  fields: Array<{ name: string; value: string; inline: boolean }>;
  timestamp: string;
  footer: { text: string };
};
export type DiscordMessage = { content: string; embeds: DiscordEmbed[]; allowed_mentions: { parse: string[] } };

/**
 * Slack's limits (docs.slack.dev, reference/block-kit: blocks, composition objects): a section's
 * text 3,000 characters; at most 10 fields of 2,000; a context element's text 3,000. Slack
 * truncates a message's `text` past 40,000; agentbus keeps it to a notification's 3,000. Slack also
 * refuses a message whose blocks hold more than about 12,000 characters of text in all
 * (`msg_blocks_too_long`, undocumented: "12,000 text characters with a buffer for block
 * containers", Slack's maintainers in slackapi/bolt-js#2509), so the blocks keep to 10,000.
 */
export const SLACK_LIMITS = { text: 3_000, sectionText: 3_000, fields: 10, fieldText: 2_000, contextText: 3_000, blocksText: 10_000 } as const;

/**
 * Discord's limits (discord.com/developers/docs, Message resource, "Embed Limits"; Execute
 * Webhook): content 2,000 characters; an embed's title 256, description 4,096, at most 25 fields,
 * a field's name 256 and value 1,024, footer text 2,048; title, description, field names and
 * values and footer text of all embeds of a message at most 6,000 together.
 */
export const DISCORD_LIMITS = { content: 2_000, title: 256, description: 4_096, fields: 25, fieldName: 256, fieldValue: 1_024, footerText: 2_048, embedsTotal: 6_000 } as const;

/** The part of a title or a label kept when it leads a longer text (a section, a field). */
const HEADING_MAX = 250;
/** The part of an incident id kept in a footer or a context line: enough to find it (`agentbus postmortem show` takes the whole id). */
const ID_MAX = 300;

/** Slack's mrkdwn control characters (&, <, >) as entities: `<!channel>` in an event stays text. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const slackLine = (text: unknown, max: number) => fitText(text, max, { multiline: false, escape: escapeSlack });

export function slackMessage(update: ChatUpdate): SlackMessage {
  const title = slackLine(update.title, HEADING_MAX);
  const fields = update.fields.slice(0, SLACK_LIMITS.fields);
  const incident = `incident \`${slackLine(update.incidentId, ID_MAX)}\` · ${slackLine(update.time, 64)}`;
  const pieces: TextPiece[] = [
    { text: update.text, max: SLACK_LIMITS.sectionText, prefix: `*${title}*\n`, escape: escapeSlack },
    ...fields.map((f): TextPiece => ({ text: f.value, max: SLACK_LIMITS.fieldText, prefix: `*${slackLine(f.label, HEADING_MAX)}*\n`, escape: escapeSlack, fallback: '-' })),
  ];
  const [section = '', ...fieldTexts] = fitTogether(pieces, SLACK_LIMITS.blocksText - incident.length);
  const blocks: SlackBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: section } }];
  if (fieldTexts.length > 0) blocks.push({ type: 'section', fields: fieldTexts.map((text) => ({ type: 'mrkdwn', text })) });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: incident }] });
  return { text: `${icons[update.tone]} ${slackLine(update.title, SLACK_LIMITS.text - 3)}`, blocks };
}

export function discordMessage(update: ChatUpdate): DiscordMessage {
  const fields = update.fields.slice(0, DISCORD_LIMITS.fields);
  const line = { multiline: false, fallback: '-' };
  // The title and the footer first, whole; the description and the fields share what is left.
  const title = fitText(update.title, DISCORD_LIMITS.title, line);
  const footer = `incident ${fitText(update.incidentId, ID_MAX, { multiline: false })}`;
  const [description = '', ...named] = fitTogether(
    [
      { text: update.text, max: DISCORD_LIMITS.description },
      ...fields.flatMap((f): TextPiece[] => [
        { text: f.label, max: DISCORD_LIMITS.fieldName, ...line },
        { text: f.value, max: DISCORD_LIMITS.fieldValue, fallback: '-' },
      ]),
    ],
    DISCORD_LIMITS.embedsTotal - title.length - footer.length,
  );
  return {
    content: `${icons[update.tone]} ${fitText(update.title, DISCORD_LIMITS.content - 3, { multiline: false })}`,
    embeds: [
      {
        title,
        ...(description ? { description } : {}),
        color: discordColors[update.tone],
        fields: fields.map((_, i) => ({ name: named[2 * i]!, value: named[2 * i + 1]!, inline: true })),
        timestamp: update.time,
        footer: { text: footer },
      },
    ],
    allowed_mentions: { parse: [] },
  };
}

export function chatMessage(update: ChatUpdate, format: ChatFormat): SlackMessage | DiscordMessage {
  return format === 'slack' ? slackMessage(update) : discordMessage(update);
}
