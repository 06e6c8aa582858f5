import type { Command } from '../command.ts';
import { csatCommand } from './csat.ts';
import { consentCheckCommand, consentExportCommand, consentProofCommand, consentVerifyCommand } from './consent.ts';
import { leadsEraseCommand } from './erase.ts';
import { eventsSendCommand } from './events.ts';
import { consentImportCommand, leadsImportCommand } from './imports.ts';
import { leadsExportCommand } from './leads-export.ts';
import { keysCreateCommand, keysListCommand, keysRevokeCommand } from './keys.ts';
import { planCommand } from './plan.ts';
import { previewCommand } from './preview.ts';
import { reportCommand } from './report.ts';
import { retryCommand } from './retry.ts';
import { runCommand } from './run.ts';
import { sendTestCommand } from './send-test.ts';
import { serveCommand, workerCommand } from './serve.ts';
import { usersAddCommand, usersDisableCommand, usersEnableCommand, usersListCommand, usersNotifyCommand } from './users.ts';
import { validateCommand } from './validate.ts';

/** Every CLI command, in the order `touchpoint --help` lists them. */
export const commands: Command[] = [
  validateCommand,
  leadsImportCommand,
  leadsEraseCommand,
  leadsExportCommand,
  consentImportCommand,
  consentCheckCommand,
  consentVerifyCommand,
  consentProofCommand,
  consentExportCommand,
  planCommand,
  previewCommand,
  sendTestCommand,
  runCommand,
  retryCommand,
  reportCommand,
  csatCommand,
  eventsSendCommand,
  serveCommand,
  workerCommand,
  keysCreateCommand,
  keysListCommand,
  keysRevokeCommand,
  usersAddCommand,
  usersListCommand,
  usersDisableCommand,
  usersEnableCommand,
  usersNotifyCommand,
];
