export { collectIncidentEvents, followIncident, type IncidentEvent } from './events.ts';
export { describeEvent, timelineOf, type TimelineRow } from './timeline.ts';
export { summarizeIncident, isFinalOutcome, IncidentOutcomes, type IncidentOutcome, type IncidentSummary } from './summary.ts';
export { buildPostmortem, renderPostmortemMarkdown, type Postmortem, type PostmortemInput, type ChangeFacts, type TaskFact, type DeadLetterFact, type EscalationFact } from './postmortem.ts';
