import { expect } from 'chai';
import type { CampaignReport } from '../../src/campaigns/report.ts';
import { reportView } from '../../src/http/ui/report.ts';
import { renderPage } from '../../src/http/ui/views.ts';
import { useBrowser } from '../helpers/browser.ts';

/** Labels as a hostile campaign file, inbound rule or occurrence name could carry them. */
const STEP = '"><img src=x onerror="window.pwned=1">';
const PERSONA = '</svg><script>window.pwned=1</script>';
const REASON = '</text></svg><script>window.pwned=2</script>';
const OCCURRENCE = '</option></select><script>window.pwned=3</script>';

const figures = {
  recorded: 3,
  sent: 1,
  delivered: 1,
  failed: {},
  suppressed: { [REASON]: 2 },
  replies: { [PERSONA]: 1 },
  opt_outs: 0,
  conversions: 0,
  spam_complaints: 0,
  bounces: { hard: 0, soft: 0 },
};
const REPORT: CampaignReport = {
  campaign: 'launch',
  occurrence: null,
  occurrences: [{ occurrence: OCCURRENCE, recorded: 3, sent: 1, delivered: 1, failed: 0, suppressed: 2 }],
  steps: [{ step: STEP, ...figures }],
  by_persona: [{ persona: PERSONA, ...figures }],
  by_channel: [{ channel: 'email', ...figures }],
  by_day: [{ day: '2026-11-01', ...figures }],
  repeat_rate: { contacts: 0, repeats: 0, rate: null },
  emotion: [],
  complaint_rate: { complaints: 0, sent: 1, rate: 0, level: 'ok' },
};

describe('the report page with hostile labels, in headless Chromium', function () {
  this.timeout(60_000);
  const browser = useBrowser();

  it('shows step, persona, reason and occurrence labels as text, in tables and inside the SVG charts, and runs nothing', async () => {
    const html = renderPage('report', await reportView({ id: 'launch' }, null, REPORT, [OCCURRENCE]));
    const page = await browser().newPage();
    try {
      // Without the app's CSP: the markup alone must hold.
      await page.setContent(html);
      expect(await page.evaluate(() => (window as { pwned?: number }).pwned)).to.equal(undefined);
      expect(await page.locator('script, img').count()).to.equal(0);
      // Three charts, each whole inside its own figure: nothing closed an <svg> early.
      expect(await page.locator('svg').count()).to.equal(3);
      expect(await page.locator('figure.chart > svg').count()).to.equal(3);
      // Axis labels are cut to fit (with …); the axis' description names them whole.
      const chartTexts = await page.locator('figure.chart svg text').allTextContents();
      expect(chartTexts.some((t) => t.startsWith('</text></svg><script>'))).to.equal(true);
      expect(chartTexts.some((t) => t.startsWith('"><img src=x'))).to.equal(true);
      const axes = await page
        .locator('figure[data-chart="suppressions"] svg [aria-roledescription="axis"]')
        .evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
      expect(axes.join(' ')).to.contain(REASON);
      expect(await page.locator('#by_persona tbody td').first().textContent()).to.equal(PERSONA);
      expect(await page.locator('#steps tbody td').first().textContent()).to.equal(STEP);
      expect(await page.locator('#occurrence-select option').allTextContents()).to.deep.equal(['All occurrences', OCCURRENCE]);
      expect(await page.locator('#occurrences a').textContent()).to.equal(OCCURRENCE);
      const named = await page.locator('[data-figure]').evaluateAll((els) => els.map((e) => e.getAttribute('data-figure')));
      expect(named).to.include(`steps.${STEP}.suppressed.${REASON}`);
    } finally {
      await page.close();
    }
  });
});
