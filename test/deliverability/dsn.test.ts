import { expect } from 'chai';
import { bounceOutcome, enhancedStatus, parseDeliveryStatus, type DsnRecipient } from '../../src/deliverability/dsn.ts';
import { parseInboundEmail } from '../../src/inbound/email.ts';

/** RFC 3464 appendix, "Multiple Recipients": one per-message block, then one block per recipient. */
const MULTIPLE = [
  'Reporting-MTA: dns; cs.utk.edu',
  '',
  'Original-Recipient: rfc822;arathib@vnet.ibm.com',
  'Final-Recipient: rfc822;arathib@vnet.ibm.com',
  'Action: failed',
  'Status: 5.0.0 (permanent failure)',
  "Diagnostic-Code: smtp; 550 'arathib@vnet.IBM.COM' is not a",
  '    registered gateway user',
  'Remote-MTA: dns; vnet.ibm.com',
  '',
  'Original-Recipient: rfc822;johnh@hpnjld.njd.hp.com',
  'Final-Recipient: rfc822;johnh@hpnjld.njd.hp.com',
  'Action: delayed',
  'Status: 4.0.0 (hpnjld.njd.jp.com: host name lookup failure)',
  '',
  'Original-Recipient: rfc822;wsnell@sdcc13.ucsd.edu',
  'Final-Recipient: rfc822;wsnell@sdcc13.ucsd.edu',
  'Action: failed',
  'Status: 4.0.0',
  'Diagnostic-Code: smtp; 426 connection timed out',
  '',
].join('\r\n');

const recipient = (action: string, status: string | null): DsnRecipient => ({ finalRecipient: null, action, status, diagnostic: null });

describe('delivery status notifications (RFC 3464)', () => {
  it('reads each recipient block: final recipient, action, status code, folded diagnostic', () => {
    expect(parseDeliveryStatus(MULTIPLE)).to.deep.equal([
      {
        finalRecipient: 'arathib@vnet.ibm.com',
        action: 'failed',
        status: '5.0.0',
        diagnostic: "smtp; 550 'arathib@vnet.IBM.COM' is not a registered gateway user",
      },
      { finalRecipient: 'johnh@hpnjld.njd.hp.com', action: 'delayed', status: '4.0.0', diagnostic: null },
      { finalRecipient: 'wsnell@sdcc13.ucsd.edu', action: 'failed', status: '4.0.0', diagnostic: 'smtp; 426 connection timed out' },
    ]);
  });

  it('calls 5.x.x failures hard, 4.x.x and delays soft, and delivered, relayed or expanded a delivery', () => {
    expect(parseDeliveryStatus(MULTIPLE).map(bounceOutcome)).to.deep.equal(['hard', 'soft', 'soft']);
    expect(bounceOutcome(recipient('failed', '5.1.1'))).to.equal('hard');
    expect(bounceOutcome(recipient('delayed', '4.2.2'))).to.equal('soft');
    expect(bounceOutcome(recipient('delayed', null))).to.equal('soft');
    for (const action of ['delivered', 'relayed', 'expanded']) expect(bounceOutcome(recipient(action, '2.0.0'))).to.equal('delivered');
    // A status that contradicts its action says nothing.
    expect(bounceOutcome(recipient('failed', '2.0.0'))).to.equal(undefined);
    expect(bounceOutcome(recipient('failed', null))).to.equal(undefined);
  });

  it('takes the enhanced status code from a Status field or an SMTP reply', () => {
    expect(enhancedStatus('5.1.1 (user unknown)')).to.equal('5.1.1');
    expect(enhancedStatus('550 5.1.1 <gone@example.com>: Recipient address rejected')).to.equal('5.1.1');
    expect(enhancedStatus('550-5.7.1 blocked')).to.equal('5.7.1');
    expect(enhancedStatus('550 User unknown')).to.equal(null);
  });

  it('finds the report and the quoted Message-ID in a whole mail, with the original as message/rfc822', async () => {
    const mail = [
      'From: MAILER-DAEMON@mx.example.org',
      'To: bounce+1-00@in.example.com',
      'Subject: Undelivered Mail Returned to Sender',
      'Message-ID: <dsn-1@mx.example.org>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain',
      '',
      'I could not deliver your message.',
      '--b',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.example.org',
      '',
      'Final-Recipient: rfc822; someone@example.org',
      'Action: failed',
      'Status: 5.1.1',
      '',
      '--b',
      'Content-Type: message/rfc822',
      '',
      'From: shop@example.com',
      'Message-ID: <message+1-abc@touchpoint.test>',
      'Subject: Spring offer',
      '',
      'Hello',
      '--b--',
      '',
    ].join('\r\n');
    const reply = await parseInboundEmail(Buffer.from(mail));
    expect(reply.kind).to.equal('bounce');
    expect(reply.report).to.deep.equal({
      recipients: [{ finalRecipient: 'someone@example.org', action: 'failed', status: '5.1.1', diagnostic: null }],
      originalMessageId: '<message+1-abc@touchpoint.test>',
    });
    // The status fields stay out of the text.
    expect(reply.bodyText).to.not.contain('Reporting-MTA');
  });
});
