/**
 * What Touchpoint itself says to a person (not marketers' templates): the unsubscribe and
 * preference page, the double opt-in page, the SMS keyword answers, the opt-out confirmation and
 * the name of the list a double opt-in mail asks about. `{name}` marks a value filled in by
 * `say` (locale.ts). Every other locale has exactly these keys (the type below checks it).
 */
export const en = {
  channels: { email: 'emails', sms: 'text messages' },
  /** Purposes with a name of their own; any other purpose is shown by its id. */
  purposes: { marketing: 'marketing' } as Record<string, string>,
  /** A purpose's messages on a channel: `marketing emails`. */
  what: '{purpose} {channel}',
  unsubscribe: {
    title: 'Unsubscribe',
    question: 'Stop receiving {what} from us?',
    button: 'Unsubscribe',
    preferences: 'Your preferences',
    subscribed: 'subscribed',
    unsubscribed: 'unsubscribed',
    none: 'No subscriptions.',
    doneTitle: 'Unsubscribed',
    doneHeading: 'You are unsubscribed',
    doneText: 'You will not receive these messages any more.',
  },
  confirm: {
    title: 'Confirm your subscription',
    question: 'Please confirm that you want to receive {what} from us.',
    button: 'Yes, subscribe me',
    confirmedTitle: 'Subscription confirmed',
    confirmedHeading: 'Thank you',
    confirmedText: 'Your subscription is confirmed.',
    alreadyTitle: 'Already confirmed',
    alreadyText: 'This link was used before; nothing changed.',
    supersededTitle: 'This link is no longer valid',
    supersededText: 'Your preferences changed after it was sent; nothing changed now.',
    /** The double opt-in mail's `{{campaign.name}}`: what the person asked to receive. */
    marketingList: 'our newsletter and offers',
    otherList: '{purpose} messages',
  },
  csat: {
    title: 'How satisfied are you?',
    question: 'How satisfied are you with how we handled your request? 1 = not at all, 5 = very.',
    thanks: 'Thank you for your answer',
    thanksText: 'You answered {score} of 5. Tap another number to change it.',
    invalidTitle: 'This survey link is not valid',
    invalidText: 'The link was changed or is incomplete. Please use the link from our message as it is.',
  },
  sms: {
    optOut: 'You are unsubscribed and will receive no more messages. Reply START to subscribe again.',
    optIn: 'You are subscribed again. Reply STOP to unsubscribe.',
    help: 'Reply STOP to unsubscribe, START to subscribe again.',
  },
  optOutRequest: {
    sms: 'We got a request to stop {what} to this number. To confirm: {url} Not you? Ignore this.',
    subject: 'Did you ask us to stop sending you {what}?',
    text:
      'We received a request to stop sending {what} to this address. If it came from you, confirm it here:\n\n{url}\n\n' +
      'If it did not, ignore this message: nothing changes.',
  },
  /** The receipt of a consent change (CONSENT_RECEIPTS); the raw values stay as recorded, for the person's own records. */
  receipt: {
    subject: 'We recorded your choice about {what}',
    actions: { grant: 'consent given', confirm: 'consent confirmed', withdraw: 'consent withdrawn' },
    text:
      'We recorded this change to your consent for {what}:\n\n' +
      'Channel: {channel}\nPurpose: {purpose}\nAction: {action} ({done})\nWhen: {when}\nSource: {source}\nNotice version: {notice}\n\n' +
      'See or change your preferences here:\n{url}',
    noNotice: 'none recorded',
  },
  /** The automatic answer a rule with `acknowledge: true` sends (inbound.yaml): when the person hears from us. */
  acknowledgement: {
    subject: 'We have your message',
    text: 'Thank you for your message. It has reached us, and you will hear from us by {reply_by}.',
  },
};

/** The shape every locale's catalogue has. */
export type Catalogue = typeof en;
