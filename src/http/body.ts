import express, { type RequestHandler } from 'express';
import { refuseNulInForm } from './validate.ts';

/**
 * How large a body each kind of route reads; a larger one answers 413 without being parsed. API
 * routes parse their body only after the key and its role are checked (app.ts, requirePermission),
 * so a stranger's body is never read into memory at all.
 */
export const BODY_LIMITS = {
  /** Up to 1,000 events or leads in one request. */
  batch: '5mb',
  /** A consent decision with the text of its notice (up to 100,000 characters). */
  consent: '512kb',
  /** An answer to a contact (up to 20,000 characters). */
  reply: '128kb',
  /** Everything else: a few fields. */
  small: '16kb',
  /** Forms of the web UI, and Twilio's form-encoded webhooks. */
  form: '64kb',
  /** The buttons of the unsubscribe and confirmation pages. */
  link: '4kb',
} as const;

export type BodyLimit = keyof typeof BODY_LIMITS;

/**
 * Parses a JSON body of at most `limit`. The handler carries its limit, so the OpenAPI test can
 * compare every route with the limit its document promises.
 */
export const jsonBody = (limit: BodyLimit): RequestHandler & { bodyLimit: string } =>
  Object.assign(express.json({ limit: BODY_LIMITS[limit] }), { bodyLimit: BODY_LIMITS[limit] });

/** Parses a form-encoded body of at most `limit`, refusing a NUL in it (validate.ts). */
export const formBody = (limit: BodyLimit): RequestHandler[] => [
  express.urlencoded({ extended: false, limit: BODY_LIMITS[limit] }),
  refuseNulInForm,
];
