//! The text of the mail Comet sends, in English and Arabic (the recipient's language, else the
//! server's `Language`, else English). Every value that comes from a person (names, the site
//! name, links) is HTML-escaped in the HTML part, so no name can add markup to a mail; the
//! plain-text part carries them as they are.

use comet_mail::escape_html;

/// A message ready for the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The languages mail is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailLanguage {
    English,
    Arabic,
}

impl MailLanguage {
    /// The first of these language tags that mail is written in, else English.
    pub fn pick<'a>(preferences: impl IntoIterator<Item = Option<&'a str>>) -> MailLanguage {
        for tag in preferences.into_iter().flatten() {
            let primary = tag
                .split(['-', '_'])
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            match primary.as_str() {
                "ar" => return MailLanguage::Arabic,
                "en" => return MailLanguage::English,
                _ => {}
            }
        }
        MailLanguage::English
    }

    fn direction(self) -> &'static str {
        match self {
            MailLanguage::English => "ltr",
            MailLanguage::Arabic => "rtl",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            MailLanguage::English => "en",
            MailLanguage::Arabic => "ar",
        }
    }
}

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    VerifyEmail,
    ResetPassword,
    /// `sendInvitationEmail`: `{name}` is who invites, the link opens registration.
    Invitation,
    /// A code for two-factor authentication by email: the "link" is the code itself.
    TwoFactorCode,
    /// `users.requestDataDownload`: the export is ready.
    DataExport,
}

struct Wording {
    subject: &'static str,
    greeting: &'static str,
    body: &'static str,
    action: &'static str,
    ignore: &'static str,
}

fn wording(kind: MailKind, language: MailLanguage) -> Wording {
    match (kind, language) {
        (MailKind::VerifyEmail, MailLanguage::English) => Wording {
            subject: "[{site}] Verify your email address",
            greeting: "Hello {name},",
            body: "Please confirm that this is your email address on {site}.",
            action: "Verify your email",
            ignore: "If you did not create an account, you can ignore this message.",
        },
        (MailKind::VerifyEmail, MailLanguage::Arabic) => Wording {
            subject: "[{site}] تأكيد عنوان بريدك الإلكتروني",
            greeting: "مرحبًا {name}،",
            body: "يرجى تأكيد أن هذا هو عنوان بريدك الإلكتروني على {site}.",
            action: "تأكيد البريد الإلكتروني",
            ignore: "إذا لم تُنشئ حسابًا، يمكنك تجاهل هذه الرسالة.",
        },
        (MailKind::ResetPassword, MailLanguage::English) => Wording {
            subject: "[{site}] Reset your password",
            greeting: "Hello {name},",
            body: "Someone asked to reset the password of your account on {site}. The link works once, within an hour.",
            action: "Reset your password",
            ignore: "If it was not you, ignore this message: your password stays as it is.",
        },
        (MailKind::ResetPassword, MailLanguage::Arabic) => Wording {
            subject: "[{site}] إعادة تعيين كلمة المرور",
            greeting: "مرحبًا {name}،",
            body: "طلب أحدهم إعادة تعيين كلمة مرور حسابك على {site}. يعمل الرابط مرة واحدة خلال ساعة.",
            action: "إعادة تعيين كلمة المرور",
            ignore: "إذا لم تكن أنت، فتجاهل هذه الرسالة: تبقى كلمة مرورك كما هي.",
        },
        (MailKind::Invitation, MailLanguage::English) => Wording {
            subject: "You have been invited to {site}",
            greeting: "Hello,",
            body: "{name} invited you to join {site}.",
            action: "Create your account",
            ignore: "If you were not expecting this invitation, you can ignore this message.",
        },
        (MailKind::Invitation, MailLanguage::Arabic) => Wording {
            subject: "تمت دعوتك إلى {site}",
            greeting: "مرحبًا،",
            body: "دعاك {name} للانضمام إلى {site}.",
            action: "أنشئ حسابك",
            ignore: "إذا لم تكن تتوقع هذه الدعوة، يمكنك تجاهل هذه الرسالة.",
        },
        (MailKind::TwoFactorCode, MailLanguage::English) => Wording {
            subject: "[{site}] Your login code",
            greeting: "Hello {name},",
            body: "Someone is signing in to your account on {site}. The code works once, for a few minutes.",
            action: "Your code",
            ignore: "If it was not you, change your password: someone knows it.",
        },
        (MailKind::TwoFactorCode, MailLanguage::Arabic) => Wording {
            subject: "[{site}] رمز تسجيل الدخول",
            greeting: "مرحبًا {name}،",
            body: "يحاول أحدهم تسجيل الدخول إلى حسابك على {site}. يعمل الرمز مرة واحدة لبضع دقائق.",
            action: "رمزك",
            ignore: "إذا لم تكن أنت، فغيّر كلمة مرورك: هناك من يعرفها.",
        },
        (MailKind::DataExport, MailLanguage::English) => Wording {
            subject: "[{site}] Your data is ready to download",
            greeting: "Hello {name},",
            body: "The copy of your data you asked for on {site} is ready. Download it while logged in to {site}.",
            action: "Download your data",
            ignore: "If you did not ask for it, tell the administrators of {site}.",
        },
        (MailKind::DataExport, MailLanguage::Arabic) => Wording {
            subject: "[{site}] بياناتك جاهزة للتنزيل",
            greeting: "مرحبًا {name}،",
            body: "نسخة بياناتك التي طلبتها على {site} جاهزة. نزّلها وأنت مسجّل الدخول إلى {site}.",
            action: "تنزيل بياناتك",
            ignore: "إذا لم تطلبها، فأبلغ مسؤولي {site}.",
        },
    }
}

/// Fills `{site}` and `{name}`: values are escaped first when the text is HTML.
fn fill(template: &str, site: &str, name: &str) -> String {
    template.replace("{site}", site).replace("{name}", name)
}

/// Renders a message with a link (`url`) for the person called `name` on the site `site`.
pub fn render(
    kind: MailKind,
    language: MailLanguage,
    site: &str,
    name: &str,
    url: &str,
) -> RenderedMail {
    let words = wording(kind, language);
    let subject = fill(words.subject, site, name)
        .replace(['\r', '\n'], " ")
        .trim()
        .to_owned();
    let text = format!(
        "{}\n\n{}\n\n{}: {url}\n\n{}\n",
        fill(words.greeting, site, name),
        fill(words.body, site, name),
        words.action,
        words.ignore,
    );
    let (site_html, name_html, url_html) = (escape_html(site), escape_html(name), escape_html(url));
    let action = escape_html(words.action);
    let call_to_action = if kind == MailKind::TwoFactorCode {
        format!("<p>{action}: <strong>{url_html}</strong></p>")
    } else {
        format!("<p><a href=\"{url_html}\">{action}</a></p><p>{url_html}</p>")
    };
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\" dir=\"{dir}\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><p>{greeting}</p><p>{body}</p>{call_to_action}<p>{ignore}</p></body></html>\n",
        lang = language.tag(),
        dir = language.direction(),
        title = escape_html(&subject),
        greeting = fill(words.greeting, &site_html, &name_html),
        body = fill(words.body, &site_html, &name_html),
        ignore = escape_html(words.ignore),
    );
    RenderedMail {
        subject,
        text,
        html,
    }
}

/// What an offline notification mail says: who wrote what where, and the room's link.
pub struct MessageNotice<'a> {
    pub site: &'a str,
    pub sender: &'a str,
    /// The room's name as the recipient sees it (the other person's for a direct message).
    pub room: &'a str,
    pub direct: bool,
    pub text: &'a str,
    pub room_url: &'a str,
}

/// The mail for a mention or direct message that came while the recipient was away.
pub fn render_message_notice(language: MailLanguage, notice: &MessageNotice<'_>) -> RenderedMail {
    let (subject, intro, action) = match (language, notice.direct) {
        (MailLanguage::English, true) => (
            "[{site}] Direct message from {sender}",
            "{sender} sent you a direct message:",
            "Reply",
        ),
        (MailLanguage::English, false) => (
            "[{site}] {sender} mentioned you in #{room}",
            "{sender} mentioned you in #{room}:",
            "Open the room",
        ),
        (MailLanguage::Arabic, true) => (
            "[{site}] رسالة مباشرة من {sender}",
            "أرسل إليك {sender} رسالة مباشرة:",
            "الرد",
        ),
        (MailLanguage::Arabic, false) => (
            "[{site}] أشار إليك {sender} في #{room}",
            "أشار إليك {sender} في #{room}:",
            "فتح الغرفة",
        ),
    };
    let fill = |template: &str, site: &str, sender: &str, room: &str| {
        template
            .replace("{site}", site)
            .replace("{sender}", sender)
            .replace("{room}", room)
    };
    let subject = fill(subject, notice.site, notice.sender, notice.room)
        .replace(['\r', '\n'], " ")
        .trim()
        .to_owned();
    let text = format!(
        "{}\n\n{}\n\n{action}: {}\n",
        fill(intro, notice.site, notice.sender, notice.room),
        notice.text,
        notice.room_url,
    );
    let url_html = escape_html(notice.room_url);
    let message_html = escape_html(notice.text).replace('\n', "<br>");
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\" dir=\"{dir}\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><p>{intro}</p><blockquote>{message_html}</blockquote><p><a href=\"{url_html}\">{action}</a></p>\
         <p>{url_html}</p></body></html>\n",
        lang = language.tag(),
        dir = language.direction(),
        title = escape_html(&subject),
        intro = fill(
            intro,
            &escape_html(notice.site),
            &escape_html(notice.sender),
            &escape_html(notice.room)
        ),
        action = escape_html(action),
    );
    RenderedMail {
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn notices_escape_the_message() {
        let mail = render_message_notice(
            MailLanguage::English,
            &MessageNotice {
                site: "Comet",
                sender: "<b>eve</b>",
                room: "general",
                direct: false,
                text: "<img src=x onerror=alert(1)>",
                room_url: "https://chat.example.com/channel/general",
            },
        );
        assert!(!mail.html.contains("<img"), "{}", mail.html);
        assert!(mail.html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(
            mail.html
                .contains("&lt;b&gt;eve&lt;/b&gt; mentioned you in #general:")
        );
        assert!(mail.text.contains("<img src=x onerror=alert(1)>"));
        assert_eq!(mail.subject, "[Comet] <b>eve</b> mentioned you in #general");
    }

    #[test]
    fn codes_are_shown_not_linked() {
        let mail = render(
            MailKind::TwoFactorCode,
            MailLanguage::English,
            "Comet",
            "n",
            "123456",
        );
        assert!(mail.html.contains("<strong>123456</strong>"));
        assert!(!mail.html.contains("href"));
        assert!(mail.text.contains("Your code: 123456"));
    }

    use super::*;

    #[test]
    fn names_cannot_add_markup() {
        let mail = render(
            MailKind::VerifyEmail,
            MailLanguage::English,
            "Comet <b>",
            "<script>alert(1)</script>",
            "https://chat.example.com/verify-email/abc?x=1&y=\"2\"",
        );
        assert!(!mail.html.contains("<script>"));
        assert!(mail.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(mail.html.contains("Comet &lt;b&gt;"));
        assert!(mail.html.contains(
            "href=\"https://chat.example.com/verify-email/abc?x=1&amp;y=&quot;2&quot;\""
        ));
        assert!(mail.text.contains("<script>alert(1)</script>"));
    }

    #[test]
    fn arabic_is_right_to_left() {
        let mail = render(
            MailKind::ResetPassword,
            MailLanguage::Arabic,
            "Comet",
            "سارة",
            "https://chat.example.com/reset-password/t",
        );
        assert!(mail.subject.contains("إعادة تعيين كلمة المرور"));
        assert!(mail.html.contains("dir=\"rtl\""));
        assert!(mail.text.contains("مرحبًا سارة،"));
    }

    #[test]
    fn subjects_stay_on_one_line() {
        let mail = render(
            MailKind::VerifyEmail,
            MailLanguage::English,
            "Evil\r\nBcc: x@example.com",
            "n",
            "u",
        );
        assert!(!mail.subject.contains('\n') && !mail.subject.contains('\r'));
    }

    #[test]
    fn picks_the_first_known_language() {
        assert_eq!(
            MailLanguage::pick([Some("ar-SA"), Some("en")]),
            MailLanguage::Arabic
        );
        assert_eq!(
            MailLanguage::pick([None, Some("fr"), Some("ar")]),
            MailLanguage::Arabic
        );
        assert_eq!(
            MailLanguage::pick([Some("en_US"), Some("ar")]),
            MailLanguage::English
        );
        assert_eq!(MailLanguage::pick([None, Some("")]), MailLanguage::English);
    }
}
