import { AgentbusError, describeError, type NotificationChannels } from '@agentbus/contracts';
import { pagerDutyRoutingKeyProblem, resolveSecret, type FleetConfig, type Secret } from '@agentbus/fleet';
import { addressPagerDutyEvent, isHttpUrl, PAGERDUTY_TARGET, TICKET_TARGET, type ChatFormat, type PagerDutyEvent } from '@agentbus/notify';

type Channel = (typeof NotificationChannels)[number];

/** One configured receiver, its secrets resolved. Its `label` (never its URL) names it in errors and logs. */
export interface DeliveryTarget {
  channel: Channel;
  name: string;
  label: string;
  url: string;
  headers: Record<string, string>;
  /** Values never to show: the URL, keys, tokens. */
  secrets: string[];
  /** The body as POSTed, from the body in the task (PagerDuty: the routing key added). */
  bodyFor(body: Record<string, unknown>): unknown;
}

export interface NotificationTargets {
  timeoutMs: number;
  pagerduty: (DeliveryTarget & { source: string }) | undefined;
  chat: Array<DeliveryTarget & { format: ChatFormat }>;
  ticket: DeliveryTarget | undefined;
  find(channel: Channel, name: string): DeliveryTarget | undefined;
  /** Names only, for logs and errors: ["pagerduty", "chat ops (slack)", "ticket"]. */
  names: string[];
}

const USER_AGENT = 'agentbus-notifier';

/**
 * The notifications section with every secret resolved (from the file or the environment) and
 * every URL checked. All problems are reported together, each naming its field, never a value.
 */
export function resolveTargets(notifications: FleetConfig['notifications'], env: Readonly<Record<string, string | undefined>>): NotificationTargets {
  const problems: string[] = [];
  const secret = (value: Secret, field: string): string => {
    try {
      return resolveSecret(value, field, env);
    } catch (error) {
      problems.push(describeError(error));
      return '';
    }
  };
  const url = (value: Secret, field: string): string => {
    const resolved = secret(value, field);
    if (resolved && !isHttpUrl(resolved)) problems.push(`${field}: not an http(s) URL${typeof value === 'string' ? '' : ` (read from ${value.env})`}`);
    return resolved;
  };
  const target = (channel: Channel, name: string, label: string, targetUrl: string, secrets: string[], headers: Record<string, string> = {}, bodyFor: DeliveryTarget['bodyFor'] = (body) => body): DeliveryTarget => ({
    channel,
    name,
    label,
    url: targetUrl,
    headers: { 'user-agent': USER_AGENT, ...headers },
    secrets: [targetUrl, ...secrets].filter(Boolean),
    bodyFor,
  });

  const pd = notifications.pagerduty;
  let pagerduty: NotificationTargets['pagerduty'];
  if (pd) {
    const routingKey = secret(pd.routingKey, 'notifications.pagerduty.routingKey');
    // A key in the file was checked when the registry was loaded; one from the environment is checked here.
    const keyProblem = routingKey ? pagerDutyRoutingKeyProblem(routingKey) : null;
    if (keyProblem) problems.push(`notifications.pagerduty.routingKey: ${keyProblem}${typeof pd.routingKey === 'string' ? '' : ` (read from ${pd.routingKey.env})`}`);
    pagerduty = {
      ...target('pagerduty', PAGERDUTY_TARGET, 'pagerduty', url(pd.url, 'notifications.pagerduty.url'), [routingKey], {}, (body) => addressPagerDutyEvent(body as PagerDutyEvent, routingKey)),
      source: pd.source,
    };
  }
  const chat = notifications.chat.map((c, index) => ({ ...target('chat', c.name, `chat target "${c.name}"`, url(c.url, `notifications.chat[${index}].url`), []), format: c.format }));
  const names = new Set<string>();
  for (const [index, c] of notifications.chat.entries()) {
    if (names.has(c.name)) problems.push(`notifications.chat[${index}].name: "${c.name}" is used by another chat target`);
    names.add(c.name);
  }
  let ticket: DeliveryTarget | undefined;
  if (notifications.ticket) {
    const token = notifications.ticket.token ? secret(notifications.ticket.token, 'notifications.ticket.token') : undefined;
    ticket = target('ticket', TICKET_TARGET, 'ticket', url(notifications.ticket.url, 'notifications.ticket.url'), token ? [token] : [], {
      accept: 'application/vnd.github+json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    });
  }
  if (problems.length > 0) {
    throw new AgentbusError('config-invalid', `notifier: the notifications section cannot be used: ${problems.join('; ')}`, {
      hint: 'fix the named fields or set the named environment variables (infra/config/README.md, "notifications")',
      details: { problems },
    });
  }
  return {
    timeoutMs: notifications.timeoutMs,
    pagerduty,
    chat,
    ticket,
    find: (channel, name) => (channel === 'pagerduty' ? (pagerduty?.name === name ? pagerduty : undefined) : channel === 'ticket' ? (ticket?.name === name ? ticket : undefined) : chat.find((c) => c.name === name)),
    names: [...(pagerduty ? ['pagerduty'] : []), ...chat.map((c) => `chat ${c.name} (${c.format})`), ...(ticket ? ['ticket'] : [])],
  };
}
