export {
  pagerDutyTrigger,
  pagerDutyResolve,
  addressPagerDutyEvent,
  pagerDutyDedupKey,
  escalationGroups,
  PAGERDUTY_MAX_SUMMARY,
  PAGERDUTY_MAX_DEDUP_KEY,
  type EscalationKind,
  type PagerDutyTrigger,
  type PagerDutyResolve,
  type PagerDutyEvent,
  type PagerDutyRequest,
  type PagerDutyLink,
  type PagerDutyTriggerOptions,
} from './pagerduty.ts';
export { chatUpdateOf, isChatUpdate, type ChatUpdate, type ChatField, type ChatTone } from './chat.ts';
export { slackMessage, discordMessage, chatMessage, escapeSlack, ChatFormats, type ChatFormat, type SlackMessage, type SlackBlock, type SlackTextObject, type DiscordMessage, type DiscordEmbed } from './chat-formats.ts';
export { ticketRequest, type TicketFacts, type TicketRequest } from './ticket.ts';
export { postWebhook, isHttpUrl, isRetryableStatus, WebhookError, WebhookErrorCodes, isWebhookError, type WebhookErrorCode, type PostWebhookOptions, type WebhookResponse } from './webhook.ts';
export { deliveryIds, idPart, PAGERDUTY_TARGET, TICKET_TARGET } from './delivery-ids.ts';
export { truncate } from './format.ts';
