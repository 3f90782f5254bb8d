/**
 * Text from the workspace (test names, failure messages, report notes) in the job summary
 * and the check run, where GitHub renders Markdown and turns `@name` into a notification.
 * A hostile or careless report must not show a remote image (it would load from the
 * reader's browser), a link, raw HTML, or ping a team.
 */

/** ASCII punctuation that starts inline Markdown or HTML: emphasis, code, links, images, HTML, entities, tables. */
const INLINE_MARKUP = /[\\`*_[\]<>!~|&]/g
/** A zero-width space: invisible, and it ends the word GitHub's mention and autolink filters look for. */
const ZERO_WIDTH_SPACE = '\u200B'
/** `@` before a user, team (`@org/team`) or e-mail domain: GitHub's mention filter needs a word character next. */
const MENTION = /@(?=[\p{L}\p{N}_-])/gu
/** GFM extended autolinks: `scheme://` and `www.` (cmark-gfm extensions/autolink.c). */
const AUTOLINK = /(\b[a-z][\w+.-]*:)(?=\/\/)|\b(www)(?=\.)/giu

/**
 * Mentions and bare URLs broken with a zero-width space after `@`, `scheme:` or `www`,
 * as Dependabot's LinkAndMentionSanitizer does for mentions. For plain-text fields that
 * GitHub may still scan (annotation titles and messages).
 */
export function neutraliseMentions(text: string): string {
  return text.replace(MENTION, `@${ZERO_WIDTH_SPACE}`).replace(AUTOLINK, (_m, scheme: string, www: string) => {
    return `${scheme ?? www}${ZERO_WIDTH_SPACE}`
  })
}

/**
 * Workspace text for an inline Markdown position (a table cell, after a label): one line,
 * cut to `max` characters before escaping, every inline markup character backslash-escaped
 * (so `<img>` shows as written, not as HTML, and `![x](u)` as text), and mentions and
 * autolinks neutralised. Block syntax (`#`, `-`, `>`) is inert mid-line and left as is.
 */
export function inlineText(text: string, max = 500): string {
  const flat = text.replace(/\r?\n|\r/g, ' ')
  const cut = flat.length > max ? flat.slice(0, max) : flat
  const escaped = neutraliseMentions(cut.replace(INLINE_MARKUP, (c) => `\\${c}`))
  return flat.length > max ? `${escaped}…` : escaped
}
