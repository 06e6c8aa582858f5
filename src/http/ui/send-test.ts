import type { Request, Router } from 'express';
import { requireCampaign } from '../../campaigns/load.ts';
import { TEST_RECIPIENT_RULE } from '../../campaigns/test-send.ts';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import { field, requiredField, type Ui } from './kit.ts';

/**
 * "Send test to me": one step's message, marked [TEST], rendered for a lead or a persona with
 * sample data, sent to the signed-in person's own address or one on the seed list
 * (campaigns/test-send.ts). The form offers only those addresses and the route accepts no other.
 */
export function sendTestRoutes(router: Router, engine: Engine, { page, guard }: Ui): void {
  /** Where this person may send tests: their own address first, then the seed list. */
  const recipientsOf = (req: Request) => [...new Set([req.session!.user.email, ...engine.config.testRecipients])];

  router.get('/campaigns/:id/send-test', guard('write'), (req, res) => {
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, req.params.id as string);
    page(res, 'send-test', `Send a test of ${campaign.name}`, req, {
      nav: { campaigns: true },
      campaign: { id: campaign.id, name: campaign.name },
      steps: campaign.steps.map((s) => ({ id: s.id, channel: s.channel, template: s.template })),
      personas: set.personas.map((p) => p.id),
      recipients: recipientsOf(req),
      rule: TEST_RECIPIENT_RULE,
    });
  });

  router.post('/campaigns/:id/send-test', guard('write'), async (req, res) => {
    const to = requiredField(req, 'to', 320);
    if (!recipientsOf(req).includes(to)) throw new AppError('forbidden', `${to} may not receive tests from you: ${TEST_RECIPIENT_RULE}`);
    const lead = field(req, 'lead');
    const persona = field(req, 'persona');
    if (!lead && !persona) throw new AppError('invalid_input', 'choose a persona or give a lead’s external id to render the test for');
    const sent = await engine.sendTest({
      campaign: req.params.id as string,
      step: requiredField(req, 'step', 100),
      subject: lead ? { lead } : { persona, locale: field(req, 'locale') || undefined },
      to,
      requestedBy: `user:${req.session!.user.email}`,
    });
    res.redirect(303, `/campaigns/${encodeURIComponent(sent.campaign)}/send-test?done=test-sent`);
  });
}
