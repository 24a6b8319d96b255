/**
 * Judgeloop's search attributes: which a namespace lacks or types otherwise (as ListSearchAttributes reports
 * them), and the worker's advice, naming every one with the commands that register it. The check against a
 * real server is test/integration/search-attributes.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JUDGELOOP_SEARCH_ATTRIBUTES, searchAttributeAdvice, searchAttributeProblems } from '../../core/run/search-attributes';
import { JUDGELOOP_SEARCH_ATTRIBUTES as STACK_ATTRIBUTES } from '../../stack/stack';

test('searchAttributeProblems: missing and differently typed ones, by code or by name', () => {
  const all = { JudgeloopRunName: 2, JudgeloopJudgeName: 2, JudgeloopIteration: 3, JudgeloopStatus: 2 };
  const cases: Array<[string, Record<string, number | string>, string[]]> = [
    ['all registered', all, []],
    ['by type name', { JudgeloopRunName: 'INDEXED_VALUE_TYPE_KEYWORD', JudgeloopJudgeName: 'Keyword', JudgeloopIteration: 'INDEXED_VALUE_TYPE_INT', JudgeloopStatus: 2 }, []],
    ['none', {}, ['JudgeloopRunName', 'JudgeloopJudgeName', 'JudgeloopIteration', 'JudgeloopStatus']],
    ['one missing', { ...all, JudgeloopStatus: undefined as unknown as number }, ['JudgeloopStatus']],
    ['iteration as a keyword', { ...all, JudgeloopIteration: 2 }, ['JudgeloopIteration (2)']],
    ['others do not matter', { ...all, CustomKeywordField: 2 }, []],
  ];
  for (const [name, registered, want] of cases) {
    const clean = Object.fromEntries(Object.entries(registered).filter(([, v]) => v !== undefined));
    assert.deepEqual(searchAttributeProblems(clean).map((p) => (p.have ? `${p.name} (${p.have})` : p.name)), want, name);
  }
  assert.deepEqual(STACK_ATTRIBUTES, JUDGELOOP_SEARCH_ATTRIBUTES, 'the local stack registers the same ones');
});

test('searchAttributeAdvice: every problem, and the commands for a self-hosted cluster and for Temporal Cloud', () => {
  const advice = searchAttributeAdvice('prod', searchAttributeProblems({ JudgeloopRunName: 2, JudgeloopIteration: 2 }));
  const lines = advice.split('\n');
  assert.match(lines[0], /^namespace prod lacks Judgeloop's search attributes: runs work, but cannot be filtered/);
  assert.match(advice, /JudgeloopIteration is registered as 2, not Int/);
  assert.match(advice, /missing: JudgeloopJudgeName \(Keyword\), JudgeloopStatus \(Keyword\)\. Register them once:/);
  assert.match(
    advice,
    /self-hosted: +temporal operator search-attribute create --namespace prod --name JudgeloopJudgeName --type Keyword && temporal operator search-attribute create --namespace prod --name JudgeloopStatus --type Keyword$/m,
  );
  assert.match(advice, /Temporal Cloud: tcld namespace search-attributes add --namespace prod --search-attribute "JudgeloopJudgeName=Keyword" --search-attribute "JudgeloopStatus=Keyword"$/m);
  assert.doesNotMatch(searchAttributeAdvice('prod', searchAttributeProblems({ JudgeloopRunName: 3, JudgeloopJudgeName: 2, JudgeloopIteration: 3, JudgeloopStatus: 2 })), /Register them once/);
});
