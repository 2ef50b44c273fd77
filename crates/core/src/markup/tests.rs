//! Input → tree pairs from upstream's message parser specification (its package tests),
//! restated here with our own helpers. Unless a case says otherwise the options are upstream's
//! test defaults: no colors, no emoticons, no KaTeX.

use super::*;

fn bare() -> Options {
    Options {
        colors: false,
        emoticons: false,
        katex_dollar: false,
        katex_parenthesis: false,
        custom_domains: Vec::new(),
    }
}

fn pl(text: &str) -> Inline {
    Inline::Plain(text.to_owned())
}
fn para(items: Vec<Inline>) -> Block {
    Block::Paragraph(items)
}
fn bold(items: Vec<Inline>) -> Inline {
    Inline::Bold(items)
}
fn italic(items: Vec<Inline>) -> Inline {
    Inline::Italic(items)
}
fn strike(items: Vec<Inline>) -> Inline {
    Inline::Strike(items)
}
fn link(src: &str, label: Vec<Inline>) -> Inline {
    Inline::Link {
        src: src.to_owned(),
        label,
    }
}
/// A link labelled with its own target.
fn bare_link(src: &str) -> Inline {
    link(src, vec![pl(src)])
}
/// A bare URL in text: its target is itself, or `//` before it when it has no scheme.
fn auto(text: &str) -> Inline {
    let src = if text.contains("://") {
        text.to_owned()
    } else {
        format!("//{text}")
    };
    link(&src, vec![pl(text)])
}
fn emoji(code: &str) -> Inline {
    Inline::Emoji {
        value: code.to_owned(),
        short_code: code.to_owned(),
    }
}
fn emoticon(text: &str, code: &str) -> Inline {
    Inline::Emoji {
        value: text.to_owned(),
        short_code: code.to_owned(),
    }
}
fn uni(text: &str) -> Inline {
    Inline::EmojiUnicode(text.to_owned())
}
fn user(name: &str) -> Inline {
    Inline::MentionUser(name.to_owned())
}
fn channel(name: &str) -> Inline {
    Inline::MentionChannel(name.to_owned())
}
fn code(text: &str) -> Inline {
    Inline::InlineCode(text.to_owned())
}

#[track_caller]
fn check_with(options: &Options, text: &str, expected: Vec<Block>) {
    assert_eq!(
        parse(text, options).unwrap_or_default(),
        expected,
        "parsing {text:?}"
    );
}

#[track_caller]
fn check(text: &str, expected: Vec<Block>) {
    check_with(&bare(), text, expected);
}

#[test]
fn empty_text_has_no_tree() {
    assert_eq!(parse("", &bare()), None);
    assert_eq!(parse_json("", &Options::default()), None);
}

#[test]
fn paragraphs_and_line_breaks() {
    check("hello", vec![para(vec![pl("hello")])]);
    check(
        "first\nsecond",
        vec![para(vec![pl("first")]), para(vec![pl("second")])],
    );
    check(
        "first\n\nsecond",
        vec![
            para(vec![pl("first")]),
            Block::LineBreak,
            para(vec![pl("second")]),
        ],
    );
    check(
        "a\n \nb",
        vec![para(vec![pl("a")]), Block::LineBreak, para(vec![pl("b")])],
    );
}

#[test]
fn bold_italic_and_strike() {
    check("*bold*", vec![para(vec![bold(vec![pl("bold")])])]);
    check("**bold**", vec![para(vec![bold(vec![pl("bold")])])]);
    check("_Hello_", vec![para(vec![italic(vec![pl("Hello")])])]);
    check("__Hello__", vec![para(vec![italic(vec![pl("Hello")])])]);
    check("~strike~", vec![para(vec![strike(vec![pl("strike")])])]);
    check("~~strike~~", vec![para(vec![strike(vec![pl("strike")])])]);
    check(
        "__Hello_",
        vec![para(vec![pl("_"), italic(vec![pl("Hello")])])],
    );
    check(
        "_Hello__",
        vec![para(vec![italic(vec![pl("Hello")]), pl("_")])],
    );
    check(
        "___Hello___",
        vec![para(vec![pl("_"), italic(vec![pl("Hello")]), pl("_")])],
    );
    check("_Hello", vec![para(vec![pl("_Hello")])]);
    check("He_llo", vec![para(vec![pl("He_llo")])]);
    check("__italic__non", vec![para(vec![pl("__italic__non")])]);
    check("__test__test__", vec![para(vec![pl("__test__test__")])]);
    check(
        "pre__italic__post",
        vec![para(vec![pl("pre__italic__post")])],
    );
    check("_ _", vec![para(vec![pl("_ _")])]);
    check("__ __", vec![para(vec![pl("__ __")])]);
    check("_ Hello_", vec![para(vec![italic(vec![pl(" Hello")])])]);
    check(
        "He said _Hello_ to her",
        vec![para(vec![
            pl("He said "),
            italic(vec![pl("Hello")]),
            pl(" to her"),
        ])],
    );
    check(
        " pre__**~~boldstrikeitalic~~**__post ",
        vec![para(vec![
            pl(" pre__"),
            bold(vec![strike(vec![pl("boldstrikeitalic")])]),
            pl("__post "),
        ])],
    );
    check(
        "some_snake_case_text and some __italic__ text",
        vec![para(vec![
            pl("some_snake_case_text and some "),
            italic(vec![pl("italic")]),
            pl(" text"),
        ])],
    );
    check(
        "something__ __and italic__",
        vec![para(vec![
            pl("something__ "),
            italic(vec![pl("and italic")]),
        ])],
    );
    check(
        "**bold ~~and strike~~** **not bold ~~but strike** ~~ not strike~~",
        vec![para(vec![
            bold(vec![pl("bold "), strike(vec![pl("and strike")])]),
            pl(" **not bold "),
            strike(vec![pl("but strike** ")]),
            pl(" not strike~~"),
        ])],
    );
    check(
        "*bold ending with colon :*and some more text",
        vec![para(vec![
            bold(vec![pl("bold ending with colon :")]),
            pl("and some more text"),
        ])],
    );
    check(
        "*bold with a kissing emoji :* *",
        vec![para(vec![
            bold(vec![pl("bold with a kissing emoji :")]),
            pl(" *"),
        ])],
    );
    check("_3.14_", vec![para(vec![italic(vec![pl("3.14")])])]);
    check(
        "_rocket.chat_",
        vec![para(vec![italic(vec![pl("rocket.chat")])])],
    );
    check("_example.com", vec![para(vec![pl("_example.com")])]);
    check(
        "_italic@test_",
        vec![para(vec![italic(vec![pl("italic@test")])])],
    );
    check(
        "_nothing `should` be _gone",
        vec![para(vec![pl("_nothing "), code("should"), pl(" be _gone")])],
    );
    check(
        "_@mention _gone",
        vec![para(vec![pl("_"), user("mention"), pl(" _gone")])],
    );
    check(
        "_ @guilherme_gazzo_ _",
        vec![para(vec![italic(vec![
            pl(" "),
            user("guilherme_gazzo_"),
            pl(" "),
        ])])],
    );
    check(
        "_test :smile: test_",
        vec![para(vec![italic(vec![
            pl("test "),
            emoji("smile"),
            pl(" test"),
        ])])],
    );
    check("_😀_", vec![para(vec![italic(vec![uni("😀")])])]);
    check(
        "**reference link inside [emphasis with more [references](https://rocket.chat)](https://rocket.chat)**",
        vec![para(vec![bold(vec![
            pl("reference link inside "),
            link(
                "https://rocket.chat",
                vec![pl("emphasis with more [references")],
            ),
            pl("](https://rocket.chat)"),
        ])])],
    );
}

#[test]
fn headings() {
    check(
        "# Hello",
        vec![Block::Heading {
            level: 1,
            value: vec![pl("Hello")],
        }],
    );
    check(
        "#### Rocket.Cat",
        vec![Block::Heading {
            level: 4,
            value: vec![pl("Rocket.Cat")],
        }],
    );
    check(
        "# # Hello\n",
        vec![
            Block::Heading {
                level: 1,
                value: vec![pl("# Hello")],
            },
            Block::LineBreak,
        ],
    );
    check("#Hello", vec![para(vec![channel("Hello")])]);
    check("#Hello#", vec![para(vec![channel("Hello"), pl("#")])]);
    check("##Hello##", vec![para(vec![pl("##Hello##")])]);
    check("He###llo", vec![para(vec![pl("He###llo")])]);
}

#[test]
fn code_blocks_and_inline_code() {
    let block = |language: &str, lines: &[&str]| Block::Code {
        language: language.to_owned(),
        lines: lines.iter().map(|l| (*l).to_owned()).collect(),
    };
    check("```\ncode\n```", vec![block("none", &["code"])]);
    check(
        "```\ncode\n\n\n\n\ncode\n```",
        vec![block("none", &["code", "", "", "", "", "code"])],
    );
    check("```\ncode\n\n\n```", vec![block("none", &["code", "", ""])]);
    check(
        "```javascript\ncode\n```",
        vec![block("javascript", &["code"])],
    );
    check("```bash c\ncode\n```", vec![block("bash c", &["code"])]);
    check(
        "```\n# code\n**code**\n```",
        vec![block("none", &["# code", "**code**"])],
    );
    check(
        "  ```\ncode\n```",
        vec![
            para(vec![pl("  ```")]),
            para(vec![pl("code")]),
            para(vec![pl("```")]),
        ],
    );
    check("`code`", vec![para(vec![code("code")])]);
    check(
        "use `let x = 1;` here",
        vec![para(vec![pl("use "), code("let x = 1;"), pl(" here")])],
    );
}

#[test]
fn quotes() {
    check(
        "As Rocket Cat said:\n> meowww\n> grr.",
        vec![
            para(vec![pl("As Rocket Cat said:")]),
            Block::Quote(vec![vec![pl("meowww")], vec![pl("grr.")]]),
        ],
    );
    check(
        "As Rocket Cat said:\n> *meowww*\n>grr.",
        vec![
            para(vec![pl("As Rocket Cat said:")]),
            Block::Quote(vec![vec![bold(vec![pl("meowww")])], vec![pl("grr.")]]),
        ],
    );
}

#[test]
fn lists_and_tasks() {
    check(
        "- First item\n- Second item\n- *Fourth item*\n- :smile:",
        vec![Block::UnorderedList(vec![
            vec![pl("First item")],
            vec![pl("Second item")],
            vec![bold(vec![pl("Fourth item")])],
            vec![emoji("smile")],
        ])],
    );
    check(
        "* First item\n* *Fourth item*",
        vec![Block::UnorderedList(vec![
            vec![pl("First item")],
            vec![bold(vec![pl("Fourth item")])],
        ])],
    );
    check(
        "- First item\n* Second item",
        vec![
            Block::UnorderedList(vec![vec![pl("First item")]]),
            Block::UnorderedList(vec![vec![pl("Second item")]]),
        ],
    );
    check(
        "[List Header Link](https://rocket.chat)\n7. First item\n2. Second item\n15. *Fifteenth item*",
        vec![
            para(vec![link(
                "https://rocket.chat",
                vec![pl("List Header Link")],
            )]),
            Block::OrderedList(vec![
                (7.0, vec![pl("First item")]),
                (2.0, vec![pl("Second item")]),
                (15.0, vec![bold(vec![pl("Fifteenth item")])]),
            ]),
        ],
    );
    check(
        "- [x] done\n- [ ] to do",
        vec![Block::Tasks(vec![
            (true, vec![pl("done")]),
            (false, vec![pl("to do")]),
        ])],
    );
}

#[test]
fn links() {
    check(
        "<https://domain.com|Test>",
        vec![para(vec![link("https://domain.com", vec![pl("Test")])])],
    );
    check(
        "<https://domain.com|Test\n> quote here",
        vec![
            para(vec![pl("<https://domain.com|Test")]),
            Block::Quote(vec![vec![pl("quote here")]]),
        ],
    );
    check(
        "[](https://rocket.chat)",
        vec![para(vec![bare_link("https://rocket.chat")])],
    );
    check(
        "[ test ](https://rocket.chat)",
        vec![para(vec![link("https://rocket.chat", vec![pl(" test ")])])],
    );
    check(
        "[title](http://localhost?testing=true)",
        vec![para(vec![link(
            "http://localhost?testing=true",
            vec![pl("title")],
        )])],
    );
    check(
        "[__**~~title~~**__](https://rocket.chat)",
        vec![para(vec![link(
            "https://rocket.chat",
            vec![italic(vec![bold(vec![strike(vec![pl("title")])])])],
        )])],
    );
    check(
        "[Link](https://domain.com/link?a=%28node_filesystem_avail_bytes%29)",
        vec![para(vec![link(
            "https://domain.com/link?a=%28node_filesystem_avail_bytes%29",
            vec![pl("Link")],
        )])],
    );
    check(
        "[Link with special chars](https://github.com/RocketChat/Rocket.Chat*[/]^_`{}~)",
        vec![para(vec![link(
            "https://github.com/RocketChat/Rocket.Chat*[/]^_`{}~",
            vec![pl("Link with special chars")],
        )])],
    );
    check(
        "([Github Issue: #24929](https://github.com/RocketChat/Rocket.Chat/issues/24929))",
        vec![para(vec![
            pl("("),
            link(
                "https://github.com/RocketChat/Rocket.Chat/issues/24929",
                vec![pl("Github Issue: #24929")],
            ),
            pl(")"),
        ])],
    );
    check(
        "the [Jira [Task] parentheses not working](rocket.chat)",
        vec![para(vec![
            pl("the "),
            link(
                "rocket.chat",
                vec![pl("Jira [Task] parentheses not working")],
            ),
        ])],
    );
    check(
        "[File Path](C:/Users/user1/Documents/projects/file.js)",
        vec![para(vec![link(
            "C:/Users/user1/Documents/projects/file.js",
            vec![pl("File Path")],
        )])],
    );
    check(
        "[Rocket.Chat](https://rocket.chat)\n\nText after line break",
        vec![
            para(vec![link("https://rocket.chat", vec![pl("Rocket.Chat")])]),
            Block::LineBreak,
            para(vec![pl("Text after line break")]),
        ],
    );
    check(
        "<9gag.com|9gag>",
        vec![para(vec![link("9gag.com", vec![pl("9gag")])])],
    );
}

#[test]
fn bare_urls() {
    check("google.com", vec![para(vec![auto("google.com")])]);
    check("www.google.com", vec![para(vec![auto("www.google.com")])]);
    check("9gag.com", vec![para(vec![auto("9gag.com")])]);
    // An absolute URL to the WHATWG parser ("rocket.chat" reads as a scheme): kept as is.
    check(
        "rocket.chat:8080",
        vec![para(vec![bare_link("rocket.chat:8080")])],
    );
    check("ShouldNotBeALink", vec![para(vec![pl("ShouldNotBeALink")])]);
    check(
        "http:/ google.com",
        vec![para(vec![pl("http:/ "), auto("google.com")])],
    );
    check("77.77%", vec![para(vec![pl("77.77%")])]);
    check("https://77.77", vec![para(vec![pl("https://77.77")])]);
    check("test.9gag", vec![para(vec![pl("test.9gag")])]);
    check("https://test", vec![para(vec![pl("https://test")])]);
    check(
        "http:/rocket.chat/teste",
        vec![para(vec![pl("http:/rocket.chat/teste")])],
    );
    check(
        "httpsss://rocket.chat/test",
        vec![para(vec![auto("httpsss://rocket.chat/test")])],
    );
    check(
        "https://localhost:3000#",
        vec![para(vec![auto("https://localhost:3000#")])],
    );
    check(
        "ftp://user:pass@localhost:21/etc/hosts",
        vec![para(vec![auto("ftp://user:pass@localhost:21/etc/hosts")])],
    );
    check("http://📙.la/❤️", vec![para(vec![auto("http://📙.la/❤️")])]);
    check(
        "https://developer.rocket.chat/reference/api/rest-api#fragment?query=query look at this",
        vec![para(vec![
            auto("https://developer.rocket.chat/reference/api/rest-api#fragment?query=query"),
            pl(" look at this"),
        ])],
    );
    check(
        "https://developer.rocket.chat?query=query\n\nline break",
        vec![
            para(vec![auto("https://developer.rocket.chat?query=query")]),
            Block::LineBreak,
            para(vec![pl("line break")]),
        ],
    );
    check(
        "two urls https://developer.rocket.chat , https://rocket.chat",
        vec![para(vec![
            pl("two urls "),
            auto("https://developer.rocket.chat"),
            pl(" , "),
            auto("https://rocket.chat"),
        ])],
    );
    check(
        "www.n-tv.de, test",
        vec![para(vec![auto("www.n-tv.de"), pl(", test")])],
    );
    check("www.te_st.com", vec![para(vec![auto("www.te_st.com")])]);
    check(
        "app...https://rocket.chat https://rocket.chat",
        vec![para(vec![
            pl("app...https://rocket.chat "),
            auto("https://rocket.chat"),
        ])],
    );
    check(
        "Hey check it out https://rocket.chat! There is not discussion about it.",
        vec![para(vec![
            pl("Hey check it out "),
            auto("https://rocket.chat"),
            pl("! There is not discussion about it."),
        ])],
    );
    check(
        "This is a normal phrase.This in another phrase.",
        vec![para(vec![pl(
            "This is a normal phrase.This in another phrase.",
        )])],
    );
    check(
        "https://www.rocket.chat/(W(601))/Main?ScreenId=GI000027",
        vec![para(vec![auto(
            "https://www.rocket.chat/(W(601))/Main?ScreenId=GI000027",
        )])],
    );
    check(
        "rocket.chattt/url_path",
        vec![para(vec![pl("rocket.chattt/url_path")])],
    );
    let intranet = Options {
        custom_domains: vec!["local".into(), "intranet".into()],
        ..bare()
    };
    check_with(
        &intranet,
        "gitlab.local",
        vec![para(vec![auto("gitlab.local")])],
    );
    check_with(
        &intranet,
        "internaltool.intranet",
        vec![para(vec![auto("internaltool.intranet")])],
    );
    check_with(
        &intranet,
        "https://internaltool.testt",
        vec![para(vec![pl("https://internaltool.testt")])],
    );
}

#[test]
fn email_addresses() {
    let mail = |address: &str| link(&format!("mailto:{address}"), vec![pl(address)]);
    check("joe@joe.com", vec![para(vec![mail("joe@joe.com")])]);
    check(
        "Joe's email is joe@joe.com. Try emailing him",
        vec![para(vec![
            pl("Joe's email is "),
            mail("joe@joe.com"),
            pl(". Try emailing him"),
        ])],
    );
    check(
        "Joe's email is (joe'roe@joe.com)",
        vec![para(vec![
            pl("Joe's email is ("),
            mail("joe'roe@joe.com"),
            pl(")"),
        ])],
    );
    check(
        "Joe's email is Кириллица@Кириллица.com",
        vec![para(vec![
            pl("Joe's email is "),
            mail("Кириллица@Кириллица.com"),
        ])],
    );
    check("Hi there@stuff", vec![para(vec![pl("Hi there@stuff")])]);
    check(
        "My email is mailto:asdf@asdf.com",
        vec![para(vec![pl("My email is "), mail("asdf@asdf.com")])],
    );
    check(
        "My email is fake@gmail.c",
        vec![para(vec![pl("My email is fake@gmail.c")])],
    );
    check(
        "My email is fake@gmail.comf",
        vec![para(vec![pl("My email is fake@gmail.comf")])],
    );
}

#[test]
fn mentions() {
    check(
        "@guilherme.gazzo",
        vec![para(vec![user("guilherme.gazzo")])],
    );
    check(
        "@guilherme.gazzo. ",
        vec![para(vec![user("guilherme.gazzo."), pl(" ")])],
    );
    check("#GENERAL", vec![para(vec![channel("GENERAL")])]);
    check(
        "@user:server.com",
        vec![para(vec![user("user:server.com")])],
    );
    check(
        "@username@example.com",
        vec![para(vec![user("username@example.com")])],
    );
    check("@téstãçâò", vec![para(vec![user("téstãçâò")])]);
    check("@李祖阳", vec![para(vec![user("李祖阳")])]);
    check(
        "test @Кириллица test",
        vec![para(vec![pl("test "), user("Кириллица"), pl(" test")])],
    );
}

#[test]
fn emoji_and_big_emoji() {
    check(":smile: asd", vec![para(vec![emoji("smile"), pl(" asd")])]);
    check(":smile:asd", vec![para(vec![pl(":smile:asd")])]);
    check("text:inner:outer", vec![para(vec![pl("text:inner:outer")])]);
    check("10:20:30", vec![para(vec![pl("10:20:30")])]);
    check(
        "\" :smile: \"",
        vec![para(vec![pl("\" "), emoji("smile"), pl(" \"")])],
    );
    check(
        ":smile:\n  :smile:\n  ",
        vec![Block::BigEmoji(vec![emoji("smile"), emoji("smile")])],
    );
    check(
        " :smile::smile::smile: ",
        vec![Block::BigEmoji(vec![
            emoji("smile"),
            emoji("smile"),
            emoji("smile"),
        ])],
    );
    check(":smile:a:smile:", vec![para(vec![pl(":smile:a:smile:")])]);
    check(
        "Hi :+1_tone4:",
        vec![para(vec![pl("Hi "), emoji("+1_tone4")])],
    );
    check("😀", vec![Block::BigEmoji(vec![uni("😀")])]);
    check("⚽️", vec![Block::BigEmoji(vec![uni("⚽️")])]);
    check("❤️", vec![Block::BigEmoji(vec![uni("❤️")])]);
    check("👆🏽👆🏽", vec![Block::BigEmoji(vec![uni("👆🏽"), uni("👆🏽")])]);
    check("👆🏺", vec![Block::BigEmoji(vec![uni("👆"), uni("🏺")])]);
    check(
        "🧑🏾\u{200D}💻",
        vec![Block::BigEmoji(vec![uni("🧑🏾\u{200D}💻")])],
    );
    check("Hi 👍", vec![para(vec![pl("Hi "), uni("👍")])]);
}

#[test]
fn emoticons_when_turned_on() {
    let on = Options {
        emoticons: true,
        ..bare()
    };
    check_with(
        &on,
        ":)",
        vec![Block::BigEmoji(vec![emoticon(":)", "slight_smile")])],
    );
    check_with(
        &on,
        "hello :) there",
        vec![para(vec![
            pl("hello "),
            emoticon(":)", "slight_smile"),
            pl(" there"),
        ])],
    );
    // Against a word, an emoticon is what was typed.
    check_with(&on, "a:)b", vec![para(vec![pl("a:)b")])]);
}

#[test]
fn escapes_colors_katex_and_timestamps() {
    check("\\*not bold\\*", vec![para(vec![pl("*not bold*")])]);
    let colors = Options {
        colors: true,
        ..bare()
    };
    check_with(
        &colors,
        "color:#ff0000",
        vec![para(vec![Inline::Color {
            r: 255,
            g: 0,
            b: 0,
            a: 255,
        }])],
    );
    check_with(
        &colors,
        "color:#f00a",
        vec![para(vec![Inline::Color {
            r: 255,
            g: 0,
            b: 0,
            a: 170,
        }])],
    );
    check("color:#ff0000", vec![para(vec![pl("color:#ff0000")])]);
    let katex = Options::default();
    check_with(&katex, "\\[x^2\\]", vec![Block::Katex("x^2".into())]);
    check_with(
        &katex,
        "where \\(a+b\\) holds",
        vec![para(vec![
            pl("where "),
            Inline::InlineKatex("a+b".into()),
            pl(" holds"),
        ])],
    );
    check(
        "<t:1708551317:R>",
        vec![para(vec![Inline::Timestamp {
            timestamp: "1708551317".into(),
            format: 'R',
        }])],
    );
    check(
        "at <t:1708551317>",
        vec![para(vec![
            pl("at "),
            Inline::Timestamp {
                timestamp: "1708551317".into(),
                format: 't',
            },
        ])],
    );
}

#[test]
fn phone_numbers() {
    check(
        "+5511999999999",
        vec![para(vec![link(
            "tel:5511999999999",
            vec![pl("+5511999999999")],
        )])],
    );
    check("+1234", vec![para(vec![pl("+1234")])]);
    check(
        "+(11)99999-9999",
        vec![para(vec![link(
            "tel:11999999999",
            vec![pl("+(11)99999-9999")],
        )])],
    );
}

#[test]
fn json_has_upstream_keys() {
    let md = parse_json(
        "**hi** @ana see https://rocket.chat :smile:\n\n```js\nx\n```",
        &Options::default(),
    );
    let expected = serde_json::json!([
        {"type": "PARAGRAPH", "value": [
            {"type": "BOLD", "value": [{"type": "PLAIN_TEXT", "value": "hi"}]},
            {"type": "PLAIN_TEXT", "value": " "},
            {"type": "MENTION_USER", "value": {"type": "PLAIN_TEXT", "value": "ana"}},
            {"type": "PLAIN_TEXT", "value": " see "},
            {"type": "LINK", "value": {
                "src": {"type": "PLAIN_TEXT", "value": "https://rocket.chat"},
                "label": [{"type": "PLAIN_TEXT", "value": "https://rocket.chat"}],
            }},
            {"type": "PLAIN_TEXT", "value": " "},
            {"type": "EMOJI", "value": {"type": "PLAIN_TEXT", "value": "smile"}, "shortCode": "smile"},
        ]},
        {"type": "LINE_BREAK"},
        {"type": "CODE", "language": "js", "value": [
            {"type": "CODE_LINE", "value": {"type": "PLAIN_TEXT", "value": "x"}},
        ]},
    ]);
    assert_eq!(md, Some(expected));
    let list = parse_json("1. one\n- [x] two", &Options::default());
    assert_eq!(
        list,
        Some(serde_json::json!([
            {"type": "ORDERED_LIST", "value": [
                {"type": "LIST_ITEM", "value": [{"type": "PLAIN_TEXT", "value": "one"}], "number": 1},
            ]},
            {"type": "TASKS", "value": [
                {"type": "TASK", "status": true, "value": [{"type": "PLAIN_TEXT", "value": "two"}]},
            ]},
        ]))
    );
    assert_eq!(
        parse_json("👍", &Options::default()),
        Some(serde_json::json!([
            {"type": "BIG_EMOJI", "value": [{"type": "EMOJI", "unicode": "👍"}]},
        ]))
    );
}

#[test]
fn hostile_texts_finish_and_never_panic() {
    let long_word = "a".repeat(20_000);
    let stars = "*_~".repeat(5_000);
    let emoticons = ":):(".repeat(3_000);
    let brackets = "[".repeat(5_000) + &"](x.com)".repeat(500);
    let nested = "**__~~".repeat(2_000);
    for text in [long_word, stars, emoticons, brackets, nested] {
        let tree = parse(&text, &Options::default()).unwrap_or_default();
        assert!(!tree.is_empty());
    }
    // Lone surrogate-free oddities: control characters, combining marks, carriage returns.
    for text in [
        "\r",
        "\r\n\r\n",
        "\u{0}",
        "a\u{301}\u{301}",
        "> ",
        "```",
        "- [",
        "<t:",
        "\\",
    ] {
        parse(text, &Options::default());
    }
}

/// Prints how long a 5,000-character message takes to parse (no assertion on time: machines
/// differ). Run with `cargo test -p comet-core markup::tests::timing -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn timing() {
    let sentence = "Hello **team**, see https://rocket.chat/docs and ping @ana or #general :smile: \
                    `code` _soon_ ~~later~~.\n";
    let mut text = String::new();
    while text.chars().count() < 5_000 {
        text.push_str(sentence);
    }
    let text: String = text.chars().take(5_000).collect();
    let runs = 50;
    let started = std::time::Instant::now();
    for _ in 0..runs {
        std::hint::black_box(parse(&text, &Options::default()));
    }
    let each = started.elapsed() / runs;
    let long_word = "x".repeat(5_000);
    let started = std::time::Instant::now();
    std::hint::black_box(parse(&long_word, &Options::default()));
    let word = started.elapsed();
    #[allow(clippy::print_stdout, reason = "the measurement is the point")]
    {
        println!("5,000-character message: {each:?} a parse; one 5,000-character word: {word:?}");
    }
}

#[test]
fn emoticons_need_room_around_them() {
    let on = Options {
        emoticons: true,
        ..bare()
    };
    let smile = || emoticon(":)", "slight_smile");
    check_with(
        &on,
        "test\n     :) test",
        vec![
            para(vec![pl("test")]),
            para(vec![pl("     "), smile(), pl(" test")]),
        ],
    );
    check_with(
        &on,
        " :) asd",
        vec![para(vec![pl(" "), smile(), pl(" asd")])],
    );
    check_with(&on, "Hi :)", vec![para(vec![pl("Hi "), smile()])]);
    check_with(
        &on,
        ":) :) :) :)",
        vec![para(vec![
            smile(),
            pl(" "),
            smile(),
            pl(" "),
            smile(),
            pl(" "),
            smile(),
        ])],
    );
    check_with(
        &on,
        ":):):)",
        vec![Block::BigEmoji(vec![smile(), smile(), smile()])],
    );
    check_with(
        &on,
        "\n :):):) \n",
        vec![Block::BigEmoji(vec![smile(), smile(), smile()])],
    );
    check_with(
        &on,
        "D: D:",
        vec![Block::BigEmoji(vec![
            emoticon("D:", "fearful"),
            emoticon("D:", "fearful"),
        ])],
    );
    check_with(
        &on,
        "Hi D:",
        vec![para(vec![pl("Hi "), emoticon("D:", "fearful")])],
    );
    for text in [
        "normal emojis :):):)",
        ":)10:30",
        ":smile::)text",
        "text:):smile:",
        "text:):)",
        ":):):) normal emojis",
        ":):):):)",
        "10:30",
        "he:)llo",
        ":)Hi",
        "Hi:) Hi",
        "Hi:)",
        "@#@#! :)@!@",
    ] {
        check_with(&on, text, vec![para(vec![pl(text)])]);
    }
    check_with(&on, "*test:*", vec![para(vec![bold(vec![pl("test:")])])]);
    check_with(&on, "_test:_", vec![para(vec![italic(vec![pl("test:")])])]);
    check_with(
        &on,
        "*bold ending with colon:* and some more text",
        vec![para(vec![
            bold(vec![pl("bold ending with colon:")]),
            pl(" and some more text"),
        ])],
    );
    check_with(
        &on,
        "*bold with a kissing emoji :* *",
        vec![para(vec![bold(vec![
            pl("bold with a kissing emoji "),
            emoticon(":*", "kissing_heart"),
            pl(" "),
        ])])],
    );
    check_with(
        &on,
        "*broken bold with a kissing emoji :*",
        vec![para(vec![
            pl("*broken bold with a kissing emoji "),
            emoticon(":*", "kissing_heart"),
        ])],
    );
    check_with(
        &on,
        "*two bolds**second*",
        vec![para(vec![
            bold(vec![pl("two bolds")]),
            bold(vec![pl("second")]),
        ])],
    );
    check_with(
        &on,
        "_test -_- _",
        vec![para(vec![italic(vec![
            pl("test "),
            emoticon("-_-", "expressionless"),
            pl(" "),
        ])])],
    );
    check_with(
        &on,
        "_two italics__second_",
        vec![para(vec![
            italic(vec![pl("two italics")]),
            italic(vec![pl("second")]),
        ])],
    );
}

#[test]
fn images_and_free_text() {
    check(
        "![image](https://rocket.chat/assets/img/header/logo.svg)",
        vec![para(vec![Inline::Image {
            src: "https://rocket.chat/assets/img/header/logo.svg".into(),
            label: "image".into(),
        }])],
    );
    check(
        "![](https://rocket.chat/assets/img/header/logo.svg)",
        vec![para(vec![Inline::Image {
            src: "https://rocket.chat/assets/img/header/logo.svg".into(),
            label: "https://rocket.chat/assets/img/header/logo.svg".into(),
        }])],
    );
    check(
        "free text, with comma",
        vec![para(vec![pl("free text, with comma")])],
    );
    check(
        "free text with unxpected/unfinished blocks *bold_",
        vec![para(vec![pl(
            "free text with unxpected/unfinished blocks *bold_",
        )])],
    );
}

#[test]
fn more_line_breaks_strikes_escapes_and_tasks() {
    check(
        "test\n\ntest2\n",
        vec![
            para(vec![pl("test")]),
            Block::LineBreak,
            para(vec![pl("test2")]),
        ],
    );
    check(
        "test\n\n\n\ntest2\n",
        vec![
            para(vec![pl("test")]),
            Block::LineBreak,
            Block::LineBreak,
            Block::LineBreak,
            para(vec![pl("test2")]),
        ],
    );
    check("~:smile:~", vec![para(vec![strike(vec![emoji("smile")])])]);
    check(
        "~test @guilherme.gazzo~",
        vec![para(vec![strike(vec![
            pl("test "),
            user("guilherme.gazzo"),
        ])])],
    );
    check(
        "pre~~strike~~post",
        vec![para(vec![
            pl("pre"),
            strike(vec![pl("strike")]),
            pl("post"),
        ])],
    );
    check("~~ ~", vec![para(vec![pl("~~ ~")])]);
    check(
        ":custom~emoji~case:",
        vec![para(vec![
            pl(":custom"),
            strike(vec![pl("emoji")]),
            pl("case:"),
        ])],
    );
    check(
        "~~~Hello~~~",
        vec![para(vec![pl("~"), strike(vec![pl("Hello")]), pl("~")])],
    );
    check(
        "~Hello~~",
        vec![para(vec![strike(vec![pl("Hello")]), pl("~")])],
    );
    check("He~llo", vec![para(vec![pl("He~llo")])]);
    check("¯\\\\_(ツ)_/¯", vec![para(vec![pl("¯\\_(ツ)_/¯")])]);
    check(
        "\\*escaped as*bold*escaped*",
        vec![para(vec![
            pl("*escaped as"),
            bold(vec![pl("bold")]),
            pl("escaped*"),
        ])],
    );
    check("\\*\\_\\~\\`\\#\\.", vec![para(vec![pl("*_~`#.")])]);
    check(
        "\\[it is not a link](/foo)",
        vec![para(vec![pl("\\[it is not a link](/foo)")])],
    );
    check("1\\. not a list", vec![para(vec![pl("1. not a list")])]);
    check("\\# not a heading", vec![para(vec![pl("# not a heading")])]);
    check(
        "\\&ouml; not a character entity",
        vec![para(vec![pl("\\&ouml; not a character entity")])],
    );
    check(
        "- [ ] this is an incomplete item\n- [x] @mentions, #refs, [links](http://localhost), **formatting**\n- [x] list syntax required (any unordered or ordered list supported)\n- [ ] :smile:",
        vec![Block::Tasks(vec![
            (false, vec![pl("this is an incomplete item")]),
            (
                true,
                vec![
                    user("mentions"),
                    pl(", "),
                    channel("refs"),
                    pl(", "),
                    link("http://localhost", vec![pl("links")]),
                    pl(", "),
                    bold(vec![pl("formatting")]),
                ],
            ),
            (
                true,
                vec![pl(
                    "list syntax required (any unordered or ordered list supported)",
                )],
            ),
            (false, vec![emoji("smile")]),
        ])],
    );
}

/// Upstream's stress case: one long line where bold, italic and strike open and close across
/// repetitions of the same sentence.
#[test]
fn stacked_emphasis_across_a_long_line() {
    let a = "This a message designed to stress test the message parser, trying to force several \
             rules to stack at the same time !!@#$%^&";
    let b = "+, overloading the symbols {}:\"|<>?, some more text ,./;'\\[], numbers too \
             1234567890-= let it call s o s ok";
    let c = ", from now on we repeat some.";
    let sentence = format!("{a}*()_{b}~{c}");
    let text = [
        "",
        " , REPEATx2 ",
        " REPEAT x3 ",
        " REPEAT x4 ",
        " REPEATx 5 ",
        " , REPEAT x6 ",
        " this can go long for some time, repeat x7 ",
        " ,repeat x8 ",
    ]
    .iter()
    .enumerate()
    .map(|(i, joint)| {
        if i == 0 {
            sentence.clone()
        } else {
            format!("{joint}{sentence}")
        }
    })
    .collect::<String>();
    check(
        &text,
        vec![para(vec![
            pl(a),
            bold(vec![
                pl("()"),
                italic(vec![
                    pl(b),
                    strike(vec![pl(&format!("{c} , REPEATx2 {a}*()_{b}"))]),
                    pl(&format!("{c} REPEAT x3 {a}*()")),
                ]),
                pl(b),
                strike(vec![
                    pl(&format!("{c} REPEAT x4 {a}*()")),
                    italic(vec![pl(&format!("{b}~{c} REPEATx 5 {a}*()"))]),
                    pl(b),
                ]),
                pl(&format!("{c} , REPEAT x6 {a}")),
            ]),
            pl(&format!("()_{b}")),
            strike(vec![
                pl(&format!(
                    "{c} this can go long for some time, repeat x7 {a}*()"
                )),
                italic(vec![pl(&format!("{b}~{c} ,repeat x8 {a}*()"))]),
                pl(b),
            ]),
            pl(c),
        ])],
    );
}

#[test]
fn alternating_marks_pair_up_as_upstream_does() {
    let text = "**_**__".repeat(197);
    let tree = parse(&text, &bare()).unwrap_or_default();
    let Some(Block::Paragraph(items)) = tree.first() else {
        panic!("one paragraph: {tree:?}");
    };
    let pair = [
        bold(vec![italic(vec![pl("**")]), italic(vec![pl("**")])]),
        italic(vec![bold(vec![pl("_")])]),
    ];
    assert_eq!(items.last(), Some(&pl("__")));
    for (i, item) in items.iter().take(items.len() - 1).enumerate() {
        assert_eq!(item, &pair[i % 2], "item {i}");
    }
}
