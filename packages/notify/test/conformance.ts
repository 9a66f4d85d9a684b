import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';

/**
 * One conformance checker per outgoing format: each returns every way a payload breaks its
 * receiver's documented rules (an empty list when it conforms). They are written from the
 * receivers' documentation, not from the builders, so that a builder cannot pass by agreeing
 * with itself. Lengths are counted in UTF-16 code units, which is never fewer than the code
 * points (or characters) the receivers count.
 */

// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Every string in `value` (keys included): no raw control character (line feed and tab aside), no bidirectional override, no half of a surrogate pair. */
export function textProblems(value: unknown, path = '$'): string[] {
  if (typeof value === 'string') {
    const problems: string[] = [];
    if (RAW_CONTROL.test(value)) problems.push(`${path}: a raw control character (U+${value.match(RAW_CONTROL)![0].charCodeAt(0).toString(16).padStart(4, '0')})`);
    if (LONE_SURROGATE.test(value)) problems.push(`${path}: half a surrogate pair (a cut emoji)`);
    return problems;
  }
  if (Array.isArray(value)) return value.flatMap((item, index) => textProblems(item, `${path}[${index}]`));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([key, item]) => [...textProblems(key, `${path} key`), ...textProblems(item, `${path}.${key}`)]);
  return [];
}

const lengthProblem = (path: string, text: unknown, max: number, min = 0): string[] => {
  if (typeof text !== 'string') return [`${path}: not a string`];
  if (text.length > max) return [`${path}: ${text.length} characters, over ${max}`];
  if (text.length < min) return [`${path}: ${text.length} characters, under ${min}`];
  return [];
};
const countProblem = (path: string, items: unknown, max: number, min = 0): string[] => {
  if (!Array.isArray(items)) return [`${path}: not an array`];
  if (items.length > max) return [`${path}: ${items.length} items, over ${max}`];
  if (items.length < min) return [`${path}: ${items.length} items, under ${min}`];
  return [];
};
const isIsoTime = (value: unknown) => typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$/.test(value) && !Number.isNaN(Date.parse(value));

type Json = Record<string, unknown>;
const asObject = (value: unknown): Json => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {});

/**
 * Slack incoming webhook with Block Kit (docs.slack.dev, reference/block-kit): top-level `text`
 * (messages are truncated past 40,000 characters); at most 50 blocks; a section's text object
 * 1–3,000 characters, or 1–10 fields of 1–2,000; a context block 1–10 elements, a text element
 * 1–3,000; block_id at most 255. Slack rejects a message whose block text adds up to more than
 * about 12,000 characters (`msg_blocks_too_long`; "12,000 text characters with a buffer for block
 * containers", Slack's maintainers in slackapi/bolt-js#2509). In mrkdwn, &, < and > must be the
 * entities &amp; &lt; &gt; (a raw `<!channel>` mentions everyone; a cut `&am` shows as text).
 */
export function slackProblems(message: unknown): string[] {
  const m = asObject(message);
  const problems = [...textProblems(message), ...lengthProblem('text', m.text, 40_000, 1), ...countProblem('blocks', m.blocks, 50, 1)];
  const mrkdwn = (path: string, object: unknown, max: number) => {
    const o = asObject(object);
    const found = [...(o.type === 'mrkdwn' || o.type === 'plain_text' ? [] : [`${path}.type: ${String(o.type)}`]), ...lengthProblem(`${path}.text`, o.text, max, 1)];
    if (typeof o.text === 'string') {
      if (/[<>]/.test(o.text)) found.push(`${path}.text: a raw < or >`);
      if (/&(?!amp;|lt;|gt;)/.test(o.text)) found.push(`${path}.text: an & that starts no entity (a cut entity?)`);
      blockText += o.text.length;
    }
    return found;
  };
  let blockText = 0;
  for (const [index, raw] of (Array.isArray(m.blocks) ? m.blocks : []).entries()) {
    const block = asObject(raw);
    const path = `blocks[${index}]`;
    if (block.block_id !== undefined) problems.push(...lengthProblem(`${path}.block_id`, block.block_id, 255));
    if (block.type === 'section') {
      if (block.text === undefined && block.fields === undefined) problems.push(`${path}: a section needs text or fields`);
      if (block.text !== undefined) problems.push(...mrkdwn(`${path}.text`, block.text, 3_000));
      if (block.fields !== undefined) {
        problems.push(...countProblem(`${path}.fields`, block.fields, 10, 1));
        for (const [i, field] of (Array.isArray(block.fields) ? block.fields : []).entries()) problems.push(...mrkdwn(`${path}.fields[${i}]`, field, 2_000));
      }
    } else if (block.type === 'context') {
      problems.push(...countProblem(`${path}.elements`, block.elements, 10, 1));
      for (const [i, element] of (Array.isArray(block.elements) ? block.elements : []).entries()) problems.push(...mrkdwn(`${path}.elements[${i}]`, element, 3_000));
    } else {
      problems.push(`${path}.type: ${String(block.type)} is not a block this checker knows`);
    }
  }
  if (blockText > 12_000) problems.push(`blocks: ${blockText} characters of text in all, over Slack's 12,000`);
  return problems;
}

/**
 * Discord webhook message (discord.com/developers/docs, Message resource, Embed limits): content
 * at most 2,000; at most 10 embeds; an embed's title 256, description 4,096, at most 25 fields,
 * a field's name 256 and value 1,024 (both required, not empty), footer text 2,048, author name
 * 256; and title, description, field names and values, footer text and author names of all the
 * embeds of a message together at most 6,000. Colour an integer 0–0xFFFFFF, timestamp ISO 8601.
 */
export function discordProblems(message: unknown): string[] {
  const m = asObject(message);
  const problems = [...textProblems(message), ...(m.content === undefined ? [] : lengthProblem('content', m.content, 2_000)), ...countProblem('embeds', m.embeds, 10)];
  if (!m.content && !(Array.isArray(m.embeds) && m.embeds.length > 0)) problems.push('neither content nor an embed');
  if (JSON.stringify(asObject(m.allowed_mentions).parse) !== '[]') problems.push('allowed_mentions.parse: mentions are not switched off');
  let total = 0;
  const counted = (path: string, text: unknown, max: number, min = 0) => {
    if (typeof text === 'string') total += text.length;
    return lengthProblem(path, text, max, min);
  };
  for (const [index, raw] of (Array.isArray(m.embeds) ? m.embeds : []).entries()) {
    const embed = asObject(raw);
    const path = `embeds[${index}]`;
    if (embed.title !== undefined) problems.push(...counted(`${path}.title`, embed.title, 256));
    if (embed.description !== undefined) problems.push(...counted(`${path}.description`, embed.description, 4_096));
    if (embed.footer !== undefined) problems.push(...counted(`${path}.footer.text`, asObject(embed.footer).text, 2_048));
    if (embed.author !== undefined) problems.push(...counted(`${path}.author.name`, asObject(embed.author).name, 256));
    if (embed.fields !== undefined) {
      problems.push(...countProblem(`${path}.fields`, embed.fields, 25));
      for (const [i, field] of (Array.isArray(embed.fields) ? embed.fields : []).entries()) {
        problems.push(...counted(`${path}.fields[${i}].name`, asObject(field).name, 256, 1), ...counted(`${path}.fields[${i}].value`, asObject(field).value, 1_024, 1));
      }
    }
    if (embed.color !== undefined && !(Number.isInteger(embed.color) && (embed.color as number) >= 0 && (embed.color as number) <= 0xffffff)) problems.push(`${path}.color: not an RGB integer`);
    if (embed.timestamp !== undefined && !isIsoTime(embed.timestamp)) problems.push(`${path}.timestamp: not ISO 8601`);
  }
  if (total > 6_000) problems.push(`embeds: ${total} characters in all, over Discord's 6,000`);
  return problems;
}

/**
 * PagerDuty Events API v2 (developer.pagerduty.com, "Send an Alert Event" and the Events API v2
 * overview): routing_key the 32-character Integration Key; event_action trigger, acknowledge or
 * resolve; dedup_key at most 255 characters (required but for a trigger); a trigger's
 * payload.summary (required) at most 1,024, payload.source (required) and payload.severity one of
 * critical, error, warning, info; payload.timestamp ISO 8601; component, group, class strings;
 * custom_details an object. A request is at most 512 KB (counted here as 512,000 bytes).
 */
export function pagerDutyProblems(request: unknown): string[] {
  const r = asObject(request);
  const problems = [...textProblems(request), ...lengthProblem('routing_key', r.routing_key, 32, 32)];
  if (!['trigger', 'acknowledge', 'resolve'].includes(r.event_action as string)) problems.push(`event_action: ${String(r.event_action)}`);
  if (r.dedup_key !== undefined || r.event_action !== 'trigger') problems.push(...lengthProblem('dedup_key', r.dedup_key, 255, 1));
  if (r.event_action === 'trigger') {
    const p = asObject(r.payload);
    problems.push(...lengthProblem('payload.summary', p.summary, 1_024, 1), ...lengthProblem('payload.source', p.source, Infinity, 1));
    if (!['critical', 'error', 'warning', 'info'].includes(p.severity as string)) problems.push(`payload.severity: ${String(p.severity)}`);
    if (p.timestamp !== undefined && !isIsoTime(p.timestamp)) problems.push('payload.timestamp: not ISO 8601');
    for (const key of ['component', 'group', 'class'] as const) if (p[key] !== undefined && typeof p[key] !== 'string') problems.push(`payload.${key}: not a string`);
    if (p.custom_details !== undefined && (typeof p.custom_details !== 'object' || Array.isArray(p.custom_details) || p.custom_details === null)) problems.push('payload.custom_details: not an object');
    for (const [i, link] of (Array.isArray(r.links) ? r.links : []).entries()) if (typeof asObject(link).href !== 'string') problems.push(`links[${i}].href: not a string`);
  }
  const bytes = Buffer.byteLength(JSON.stringify(request));
  if (bytes > 512_000) problems.push(`${bytes} bytes, over PagerDuty's 512 KB`);
  return problems;
}

/** An OpenAPI 3.0 schema as JSON Schema: `nullable: true` becomes "or null" (the one OpenAPI keyword the schema uses that JSON Schema lacks). */
function fromOpenApi(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(fromOpenApi);
  if (!schema || typeof schema !== 'object') return schema;
  const { nullable, ...rest } = schema as Json;
  const converted = Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, fromOpenApi(value)]));
  if (nullable !== true) return converted;
  return typeof converted.type === 'string' ? { ...converted, type: [converted.type, 'null'] } : { anyOf: [converted, { type: 'null' }] };
}

const ajv = new Ajv({ allErrors: true, strict: false });
/** The issues/create request body schema, from @octokit/openapi (see the fixture's $comment). */
const validateIssuesCreate = ajv.compile(fromOpenApi(JSON.parse(readFileSync(new URL('./fixtures/github-issues-create.schema.json', import.meta.url), 'utf8'))) as object);

/**
 * GitHub issues/create (POST /repos/{owner}/{repo}/issues): the request schema of @octokit/openapi,
 * and the limits GitHub answers 422 to, which the schema does not carry: title 1–256 characters
 * ("title is too long (maximum is 256 characters)"), body at most 65,536 ("body is too long
 * (maximum is 65536 characters)"), a label name at most 50 ("name is too long (maximum is 50
 * characters)", github/docs#32156), at most 100 labels on an issue ("Issues cannot have more than
 * 100 labels", github/docs#161).
 */
export function githubIssueProblems(request: unknown): string[] {
  const r = asObject(request);
  const problems = [...textProblems(request)];
  if (!validateIssuesCreate(request)) problems.push(...(validateIssuesCreate.errors ?? []).map((e) => `schema: ${e.instancePath || '(body)'} ${e.message ?? ''}`));
  problems.push(...lengthProblem('title', typeof r.title === 'number' ? String(r.title) : r.title, 256, 1));
  if (r.body !== undefined) problems.push(...lengthProblem('body', r.body, 65_536));
  if (r.labels !== undefined) {
    problems.push(...countProblem('labels', r.labels, 100));
    for (const [i, label] of (Array.isArray(r.labels) ? r.labels : []).entries()) problems.push(...lengthProblem(`labels[${i}]`, typeof label === 'string' ? label : asObject(label).name, 50, 1));
  }
  return problems;
}
