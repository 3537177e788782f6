/**
 * Grants of an upstream's resources (by URI pattern), prompts (by name) and
 * sampling or elicitation relays, compiled to Cedar (ADR-013): deny by
 * default, the first matching grant governs (a broad grant after a narrower,
 * conditioned one cannot widen it), `when` conditions see the request's
 * context, and workspace policies can forbid under the new actions.
 */
import { describe, expect, it } from 'vitest';
import { resourceGrantFor, wildcardMatches } from '../../src/config/contract-schema.js';
import type { Problem } from '../../src/config/problems.js';
import { PROMPT_TYPE, RESOURCE_TYPE, UPSTREAM_TYPE, compilePolicySet, type PolicyFile } from '../../src/policy/compile.js';
import { PolicyEngine, type AccessRequest } from '../../src/policy/engine.js';
import { contract } from './helpers.js';

const reader = contract({
  agent: 'reader',
  resources: [
    { upstream: 'docs', uri: 'docs://private/*', when: 'context.operation == "read"' },
    { upstream: 'docs', uri: '*' },
  ],
  prompts: [{ upstream: 'docs', name: 'summar*', when: 'context.arguments has style && context.arguments.style == "brief"' }],
  client_requests: [{ upstream: 'docs', kind: 'sampling', when: 'context.max_tokens <= 500' }],
});

function engine(files: PolicyFile[] = []): PolicyEngine {
  const problems: Problem[] = [];
  const set = compilePolicySet([reader], files, problems);
  expect(problems).toEqual([]);
  return new PolicyEngine(set);
}

const resource = (uri: string, operation: string, upstream = 'docs'): AccessRequest => ({
  agent: { id: 'reader', role: 'agent' },
  kind: 'resource',
  resource: { type: RESOURCE_TYPE, id: `${upstream}:${uri}`, attrs: { id: `${upstream}:${uri}`, uri, upstream } },
  context: { operation, upstream, uri },
});

describe('resource, prompt and client-request grants', () => {
  it('a URI pattern matches with * over any characters, and nothing else is special', () => {
    expect(wildcardMatches('demo://resource/static/*', 'demo://resource/static/document/a.md')).toBe(true);
    expect(wildcardMatches('demo://resource/static/*', 'demo://resource/dynamic/1')).toBe(false);
    expect(wildcardMatches('file:///srv/a.b', 'file:///srv/aXb')).toBe(false);
    expect(resourceGrantFor(reader, 'docs', 'docs://private/x')?.uri).toBe('docs://private/*');
    expect(resourceGrantFor(reader, 'other', 'docs://private/x')).toBeUndefined();
  });

  it('the first matching grant governs: its condition cannot be widened by a broader grant after it', () => {
    const e = engine();
    expect(e.evaluateAccess(resource('docs://private/plan', 'read'))).toEqual({ kind: 'permit', policies: ['contract.reader.resource.0'] });
    expect(e.evaluateAccess(resource('docs://private/plan', 'subscribe'))).toEqual({ kind: 'no_permit', policies: [] });
    expect(e.evaluateAccess(resource('docs://public/faq', 'subscribe'))).toEqual({ kind: 'permit', policies: ['contract.reader.resource.1'] });
    // Another upstream's resources are not granted at all.
    expect(e.evaluateAccess(resource('docs://public/faq', 'read', 'wiki'))).toEqual({ kind: 'no_permit', policies: [] });
  });

  it('a prompt grant by glob, with a condition on its arguments', () => {
    const e = engine();
    const get = (name: string, args: Record<string, string>): AccessRequest => ({
      agent: { id: 'reader', role: 'agent' },
      kind: 'prompt',
      resource: { type: PROMPT_TYPE, id: `docs.${name}`, attrs: { id: `docs.${name}`, name, upstream: 'docs' } },
      context: { operation: 'get', upstream: 'docs', arguments: args },
    });
    expect(e.evaluateAccess(get('summarise', { style: 'brief' })).kind).toBe('permit');
    expect(e.evaluateAccess(get('summarise', { style: 'long' })).kind).toBe('no_permit');
    expect(e.evaluateAccess(get('summarise', {})).kind).toBe('no_permit');
    expect(e.evaluateAccess(get('translate', { style: 'brief' })).kind).toBe('no_permit');
  });

  it('sampling is permitted within its condition; elicitation without a grant is not; a workspace forbid wins', () => {
    const ask = (kind: 'sampling' | 'elicitation', maxTokens: number): AccessRequest => ({
      agent: { id: 'reader', role: 'agent' },
      kind,
      resource: { type: UPSTREAM_TYPE, id: 'docs', attrs: { id: 'docs', upstream: 'docs' } },
      context: { operation: kind === 'sampling' ? 'sampling/createMessage' : 'elicitation/create', upstream: 'docs', tool: 'search', max_tokens: maxTokens, messages: 1 },
    });
    const e = engine();
    expect(e.evaluateAccess(ask('sampling', 100)).kind).toBe('permit');
    expect(e.evaluateAccess(ask('sampling', 5_000)).kind).toBe('no_permit');
    expect(e.evaluateAccess(ask('elicitation', 0)).kind).toBe('no_permit');
    const forbid: PolicyFile = {
      file: 'policies/no-sampling-in-search.cedar',
      text: '@id("no-sampling-in-search")\nforbid (principal, action == Mandate::Action::"sampling", resource) when { context.tool == "search" };',
    };
    expect(engine([forbid]).evaluateAccess(ask('sampling', 100))).toEqual({ kind: 'forbid', policies: ['no-sampling-in-search'] });
  });
});
