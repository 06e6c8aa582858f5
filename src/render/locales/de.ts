import type { Catalogue } from './en.ts';

export const de: Catalogue = {
  channels: { email: 'E-Mails', sms: 'SMS' },
  purposes: { marketing: 'Werbe' },
  what: '{purpose}-{channel}',
  unsubscribe: {
    title: 'Abmelden',
    question: 'Keine {what} mehr von uns erhalten?',
    button: 'Abmelden',
    preferences: 'Ihre Einstellungen',
    subscribed: 'abonniert',
    unsubscribed: 'abgemeldet',
    none: 'Keine Abonnements.',
    doneTitle: 'Abgemeldet',
    doneHeading: 'Sie sind abgemeldet',
    doneText: 'Sie erhalten diese Nachrichten nicht mehr.',
  },
  confirm: {
    title: 'Abonnement bestätigen',
    question: 'Bitte bestätigen Sie, dass Sie {what} von uns erhalten möchten.',
    button: 'Ja, ich möchte sie erhalten',
    confirmedTitle: 'Abonnement bestätigt',
    confirmedHeading: 'Vielen Dank',
    confirmedText: 'Ihr Abonnement ist bestätigt.',
    alreadyTitle: 'Bereits bestätigt',
    alreadyText: 'Dieser Link wurde schon verwendet; es hat sich nichts geändert.',
    supersededTitle: 'Dieser Link gilt nicht mehr',
    supersededText: 'Ihre Einstellungen haben sich geändert, nachdem er verschickt wurde; es hat sich jetzt nichts geändert.',
    marketingList: 'unseren Newsletter und unsere Angebote',
    otherList: '{purpose}-Nachrichten',
  },
  csat: {
    title: 'Wie zufrieden sind Sie?',
    question: 'Wie zufrieden sind Sie damit, wie wir Ihr Anliegen bearbeitet haben? 1 = gar nicht, 5 = sehr.',
    thanks: 'Danke für Ihre Antwort',
    thanksText: 'Sie haben {score} von 5 gewählt. Mit einer anderen Zahl ändern Sie Ihre Antwort.',
    invalidTitle: 'Dieser Umfrage-Link ist ungültig',
    invalidText: 'Der Link wurde verändert oder ist unvollständig. Bitte verwenden Sie den Link aus unserer Nachricht unverändert.',
  },
  sms: {
    optOut: 'Sie sind abgemeldet und erhalten keine Nachrichten mehr. Antworten Sie START, um sich wieder anzumelden.',
    optIn: 'Sie sind wieder angemeldet. Antworten Sie STOP, um sich abzumelden.',
    help: 'Antworten Sie STOP, um sich abzumelden, START, um sich wieder anzumelden.',
  },
  optOutRequest: {
    sms: 'Wir haben die Bitte erhalten, keine {what} mehr an diese Nummer zu senden. Bestätigen: {url} Nicht Sie? Ignorieren Sie diese Nachricht.',
    subject: 'Möchten Sie keine {what} mehr von uns erhalten?',
    text:
      'Wir haben die Bitte erhalten, keine {what} mehr an diese Adresse zu senden. Wenn sie von Ihnen kam, bestätigen Sie sie hier:\n\n{url}\n\n' +
      'Wenn nicht, ignorieren Sie diese Nachricht: Es ändert sich nichts.',
  },
  receipt: {
    subject: 'Wir haben Ihre Entscheidung zu {what} festgehalten',
    actions: { grant: 'Einwilligung erteilt', confirm: 'Einwilligung bestätigt', withdraw: 'Einwilligung widerrufen' },
    text:
      'Wir haben diese Änderung Ihrer Einwilligung zu {what} festgehalten:\n\n' +
      'Kanal: {channel}\nZweck: {purpose}\nAktion: {action} ({done})\nZeitpunkt: {when}\nQuelle: {source}\nVersion des Hinweises: {notice}\n\n' +
      'Ihre Einstellungen ansehen oder ändern:\n{url}',
    noNotice: 'keine festgehalten',
  },
  acknowledgement: {
    subject: 'Ihre Nachricht ist angekommen',
    text: 'Vielen Dank für Ihre Nachricht. Sie ist bei uns angekommen, und Sie hören bis {reply_by} von uns.',
  },
};
