/** A Linear layer's per-sample outer products and their sum on native = composed tf ops on cpu (table: cases/outer.ts). */
import { OUTER_CASES } from './cases/outer.ts';
import { caseTests, describeNative } from './harness.ts';

describeNative('native outer products and their sum = composed tf ops on cpu', () => caseTests(OUTER_CASES));
