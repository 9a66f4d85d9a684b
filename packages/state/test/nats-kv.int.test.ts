import { conformanceSuite } from './conformance.ts';
import { natsKvHarness } from './harness/backends.ts';

conformanceSuite(natsKvHarness());
