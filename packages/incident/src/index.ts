export { collectIncidentEvents, followIncident, type IncidentEvent } from './events.ts';
export { describeEvent, timelineOf } from './timeline.ts';
export { summarizeIncident, isFinalOutcome, IncidentOutcomes, type IncidentOutcome, type IncidentSummary } from './summary.ts';
export { buildPostmortem, renderPostmortemMarkdown, type PostmortemInput } from './postmortem.ts';
export {
  postmortemSchema,
  changeFactsSchema,
  taskFactSchema,
  deadLetterFactSchema,
  escalationFactSchema,
  timelineRowSchema,
  type Postmortem,
  type ChangeFacts,
  type TaskFact,
  type DeadLetterFact,
  type EscalationFact,
  type TimelineRow,
} from './postmortem-schema.ts';
