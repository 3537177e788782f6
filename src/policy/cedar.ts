/**
 * Cedar, loaded only after the V8 guard has run: the guard must be in force
 * before any function that calls into Cedar's wasm is optimised (ADR-018).
 * Every value import of Cedar goes through this module (eslint enforces it).
 */
import '../core/v8-guard.js';

export * from '@cedar-policy/cedar-wasm/nodejs';
