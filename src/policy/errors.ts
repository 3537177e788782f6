/**
 * What an evaluation error of one policy may say outside the engine. Cedar's
 * messages quote the request's values (`integer overflow while attempting to
 * multiply the values `9007199254740991` and …`, `` `abc` is not a well-formed
 * decimal value``), so only the error's kind leaves, with the policy id and,
 * for a type error, the two type names, which come from the policy and the
 * schema, never from the request.
 */
export type PolicyErrorKind = 'type_error' | 'integer_overflow' | 'attribute_missing' | 'extension_error' | 'entity_missing' | 'evaluation_error';

export interface PolicyFailure {
  /** The id of the policy that failed (`contract.<agent>.grant.<capability>`, or a file policy's @id). */
  policy: string;
  kind: PolicyErrorKind;
  /** A one-line description without values: `type error: expected long, got decimal`. */
  summary: string;
  /** How to fix it, where the kind tells. */
  hint?: string;
}

const TYPE_ERROR = /^type error: expected ([a-z]+(?:, [a-z]+)*(?:,? or [a-z]+)?), got ([a-z]+)$/i;
const DECIMAL_HINT = 'the field is a decimal (a number with a fraction): compare it with its methods, e.g. context.values.amount.lessThan(decimal("100.0")); `mandate validate` reports where';

/** The kind and value-free summary of one of Cedar's evaluation errors. */
export function policyFailure(policy: string, message: string): PolicyFailure {
  const type = TYPE_ERROR.exec(message.trim());
  if (type) {
    const [, expected, got] = type as unknown as [string, string, string];
    const summary = `type error: expected ${expected.toLowerCase()}, got ${got.toLowerCase()}`;
    return { policy, kind: 'type_error', summary, ...(/decimal/i.test(got) ? { hint: DECIMAL_HINT } : {}) };
  }
  if (/overflow/i.test(message)) return { policy, kind: 'integer_overflow', summary: 'integer overflow', hint: 'compare amounts without arithmetic on them, or bound them before' };
  if (/does not have the attribute|attribute .* not found|no attribute/i.test(message)) {
    return { policy, kind: 'attribute_missing', summary: 'a record or entity lacks an attribute the policy reads', hint: 'guard an optional field with `has`' };
  }
  if (/extension/i.test(message)) return { policy, kind: 'extension_error', summary: 'an extension function (decimal, ip, datetime) failed on its argument' };
  if (/entity .*does not exist/i.test(message)) return { policy, kind: 'entity_missing', summary: 'an entity the policy reads does not exist' };
  return { policy, kind: 'evaluation_error', summary: 'evaluation error' };
}

/** The refusal's message for one failure: the policy, the kind, and the hint. */
export function failureMessage(f: PolicyFailure): string {
  return `policy \`${f.policy}\` failed to evaluate: ${f.summary}${f.hint ? ` (${f.hint})` : ''}`;
}
