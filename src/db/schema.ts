// The whole schema, for drizzle-kit and for typed queries; each table lives with its domain.
export * from '../access/schema.ts';
export { settings } from './settings.ts';
export * from '../campaigns/schema.ts';
export * from '../consent/schema.ts';
export * from '../leads/schema.ts';
export * from '../messages/schema.ts';
export * from '../sequences/schema.ts';
export * from '../inbound/schema.ts';
export * from '../deliverability/schema.ts';
