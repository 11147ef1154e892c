//! Mastodon's HTML snippets (an account's `note` and profile field values) as plain text, and
//! the hashtags linked in them.
//!
//! Mastodon sanitises this HTML on the server to a few tags (`p`, `br`, `a`, `span`), so a small
//! scanner is enough: no script or style content can appear, and entities are the basic ones.
//! The instance may be the caller's, though, so every scan is linear in the snippet's length
//! whatever it holds.

use enrichd_sdk::text::unique_ignoring_case;

/// The text of an HTML snippet: tags dropped, `<br>` a line break, paragraphs separated by a
/// blank line, basic and numeric character references decoded, surrounding space trimmed.
pub(crate) fn to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let after = &rest[open..];
        let Some(close) = after.find('>') else {
            // A lone `<` is text (the server would have escaped it, but be lenient).
            text.push_str(after);
            rest = "";
            break;
        };
        match tag_name(&after[1..close]).as_str() {
            "br" => text.push('\n'),
            "/p" => text.push_str("\n\n"),
            _ => {}
        }
        rest = &after[close + 1..];
    }
    text.push_str(rest);
    let decoded = decode_entities(&text);
    let lines: Vec<&str> = decoded.trim().lines().map(str::trim_end).collect();
    lines.join("\n")
}

/// The hashtags linked in an HTML snippet: the text of every `<a>` whose class includes
/// `hashtag` or whose `rel` includes `tag`, without the `#`, first spelling kept, no repeats
/// (compared case-insensitively).
pub(crate) fn hashtags(html: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(open) = find_tag(rest, "a") {
        let after = &rest[open..];
        let Some(close) = after.find('>') else { break };
        let attributes = &after[..close];
        let body = &after[close + 1..];
        let end = body.find("</a>").unwrap_or(body.len());
        let is_hashtag = attribute(attributes, "class")
            .is_some_and(|c| c.split_whitespace().any(|w| w == "hashtag"))
            || attribute(attributes, "rel")
                .is_some_and(|r| r.split_whitespace().any(|w| w == "tag"));
        if is_hashtag {
            let text = to_text(&body[..end]);
            let tag = text.trim().trim_start_matches('#').trim();
            if !tag.is_empty() {
                tags.push(tag.to_owned());
            }
        }
        rest = &body[end..];
    }
    unique_ignoring_case(tags)
}

/// The lower-case name of a tag from what is between `<` and `>` (`/p` for a closing one).
fn tag_name(inside: &str) -> String {
    let inside = inside.trim_start();
    let (slash, name) = match inside.strip_prefix('/') {
        Some(name) => ("/", name),
        None => ("", inside),
    };
    let name: String = name
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("{slash}{}", name.to_ascii_lowercase())
}

/// Where the next opening `<name ...>` tag starts.
///
/// The name is read from the `<` on, without looking for the `>` first: it cannot run past
/// one, and searching from every `<` to the next `>` is quadratic on a note of `<<<<...`
/// (the instance, hence the note, may be the caller's).
fn find_tag(html: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = html[from..].find('<') {
        let start = from + at;
        if tag_name(&html[start + 1..]) == name {
            return Some(start);
        }
        from = start + 1;
    }
    None
}

/// The value of a double- or single-quoted attribute in a tag's text.
fn attribute<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let mut from = 0;
    while let Some(at) = tag[from..].find(name) {
        let start = from + at;
        let before_ok = tag[..start].ends_with(|c: char| c.is_ascii_whitespace());
        let after = tag[start + name.len()..].trim_start();
        if before_ok && let Some(value) = after.strip_prefix('=') {
            let value = value.trim_start();
            let quote = value.chars().next()?;
            if quote == '"' || quote == '\'' {
                let value = &value[1..];
                return value.find(quote).map(|end| &value[..end]);
            }
        }
        from = start + name.len();
    }
    None
}

/// Decode `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&nbsp;` and numeric references;
/// anything else is left as written.
fn decode_entities(text: &str) -> String {
    /// Where the `;` of a reference may be, at the latest (`&#x10FFFF;` fits).
    const LONGEST: usize = 12;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        // Only the next few bytes: searching the whole rest from every `&` is quadratic.
        let semicolon = after.bytes().take(LONGEST + 1).position(|b| b == b';');
        let decoded = semicolon.and_then(|end| {
            let entity = &after[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => {
                    let code = match entity.strip_prefix('#') {
                        Some(hex) if hex.starts_with(['x', 'X']) => {
                            u32::from_str_radix(&hex[1..], 16).ok()
                        }
                        Some(decimal) => decimal.parse::<u32>().ok(),
                        None => None,
                    };
                    code.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_line_breaks_survive_as_text() {
        assert_eq!(
            to_text("<p>Line one<br>line two<br />three</p><p>Second &amp; last</p>"),
            "Line one\nline two\nthree\n\nSecond & last"
        );
    }

    #[test]
    fn links_keep_their_full_text_and_entities_are_decoded() {
        let link = r#"<a href="https://www.patreon.com/mastodon" rel="me nofollow noopener noreferrer" target="_blank"><span class="invisible">https://www.</span><span class="">patreon.com/mastodon</span><span class="invisible"></span></a>"#;
        assert_eq!(to_text(link), "https://www.patreon.com/mastodon");
        assert_eq!(
            to_text(
                "&lt;b&gt;not bold&lt;/b&gt; &quot;q&quot; &#39;s&#39; &#x1F418; &copy; a&b &#xZZ;"
            ),
            "<b>not bold</b> \"q\" 's' 🐘 &copy; a&b &#xZZ;"
        );
        assert_eq!(to_text("2 < 3"), "2 < 3");
        assert_eq!(to_text("  "), "");
    }

    #[test]
    fn hashtag_links_are_collected_once() {
        let note = r##"<p><a href="https://awoo.space/tags/awoo" class="mention hashtag" rel="nofollow noopener noreferrer" target="_blank">#<span>awoo</span></a>.space <a href="https://x.example/tags/Rust" class="mention hashtag">#<span>Rust</span></a> <a href="https://x.example/tags/rust" rel="tag">#rust</a> <a href="https://x.example/tags/Go" rel="nofollow tag">#Go</a> <span class="h-card"><a href="https://weirder.earth/@dzuk" class="u-url mention">@<span>dzuk</span></a></span> <a href="https://example.com/#frag">#frag</a> #plain</p>"##;
        assert_eq!(hashtags(note), ["awoo", "Rust", "Go"]);
        assert!(hashtags("<p>no tags</p>").is_empty());
        assert!(hashtags("<a class='hashtag'>#</a>").is_empty());
        assert_eq!(
            hashtags("<a class='mention hashtag'>#single</a>"),
            ["single"]
        );
    }

    #[test]
    fn long_hostile_notes_are_read_in_linear_time() {
        // Quadratic, each of these takes minutes: 1 MiB is what a response may carry.
        let size = 1 << 20;
        let started = std::time::Instant::now();
        for note in [
            "<".repeat(size),
            format!("{}>", "<".repeat(size)),
            "&".repeat(size),
            "&#".repeat(size / 2),
            "<a class='hashtag'>#x</a>".repeat(size / 25),
        ] {
            to_text(&note);
            hashtags(&note);
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn many_hashtags_are_collected_once_in_linear_time() {
        let note: String = (0..50_000)
            .map(|i| format!("<a class='hashtag'>#Tag{i}</a> <a rel='tag'>#TAG{i}</a>"))
            .collect();
        let started = std::time::Instant::now();
        let tags = hashtags(&note);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(tags.len(), 50_000);
        assert_eq!(tags[0], "Tag0");
        assert_eq!(tags[49_999], "Tag49999");
    }
}
