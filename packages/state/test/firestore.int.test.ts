import { conformanceSuite } from './conformance.ts';
import { firestoreHarness } from './harness/backends.ts';

conformanceSuite(firestoreHarness());
