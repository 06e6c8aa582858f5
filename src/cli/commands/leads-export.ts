import fs from 'node:fs/promises';
import { AppError } from '../../errors.ts';
import { ACCESS_REQUEST_FORMATS, accessRequestArchive, type AccessRequestFormat } from '../../leads/access-request.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

export const leadsExportCommand: Command = {
  name: ['leads', 'export'],
  summary: 'answer an access request: everything held about a person (JSON bundle with a summary, or a zip of it); the request is recorded',
  usage: 'leads export <external-id> [--format json|zip] [--out FILE]',
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      format: { type: 'string', default: 'json' },
      out: { type: 'string' },
    });
    const [externalId] = positionals;
    if (!externalId || positionals.length !== 1) throw new AppError('invalid_input', 'leads export takes exactly one external id');
    const format = values.format as AccessRequestFormat;
    if (!ACCESS_REQUEST_FORMATS.includes(format)) throw new AppError('invalid_input', `--format is ${ACCESS_REQUEST_FORMATS.join(' or ')}`);
    // Checked before the request is recorded: an archive is not written to a terminal.
    if (format === 'zip' && !values.out) throw new AppError('invalid_input', '--format zip needs --out FILE');
    const bundle = await (await ctx.engine()).leads.accessRequest({ externalId, requestedBy: 'cli', format });
    const text = format === 'zip' ? accessRequestArchive(bundle) : JSON.stringify(bundle, null, 2) + '\n';
    if (values.out) {
      await fs.writeFile(values.out, text);
      ctx.stderr.write(`${bundle.summary.join('\n')}\nwritten to ${values.out}\n`);
    } else ctx.stdout.write(text);
    return 0;
  },
};
