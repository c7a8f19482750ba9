/// One word of a command line.
public struct Word: Equatable, Sendable {
    public var text: String
    /// Written in double quotes: always a positional argument, never an option.
    public var quoted: Bool
    /// 1-based column of the word's first character.
    public var column: Int

    public init(_ text: String, quoted: Bool = false, column: Int = 1) {
        self.text = text
        self.quoted = quoted
        self.column = column
    }
}

/// Splits a line of the command language into words: blanks separate words, `#` starts a comment (outside
/// quotes), `"..."` quotes a word (with `\"` and `\\` escapes).
public enum Lexer {
    /// - Throws: `S2CmdError.syntax` for an unterminated quote.
    public static func words(_ line: String) throws(S2CmdError) -> [Word] {
        var out: [Word] = []
        var current = ""
        var inWord = false
        var quoted = false
        var inQuote = false
        var escape = false
        var start = 0
        var quoteColumn = 0
        for (i, c) in line.enumerated() {
            let column = i + 1
            if inQuote {
                if escape {
                    current.append(c)
                    escape = false
                } else if c == "\\" {
                    escape = true
                } else if c == "\"" {
                    inQuote = false
                } else {
                    current.append(c)
                }
                continue
            }
            if c == "#" { break }
            if c == " " || c == "\t" || c == "\r" {
                if inWord { out.append(Word(current, quoted: quoted, column: start)) }
                current = ""
                inWord = false
                quoted = false
                continue
            }
            if !inWord {
                inWord = true
                start = column
            }
            if c == "\"" {
                inQuote = true
                quoted = true
                quoteColumn = column
            } else {
                current.append(c)
            }
        }
        if inQuote { throw .syntax("unterminated quote", column: quoteColumn) }
        if inWord { out.append(Word(current, quoted: quoted, column: start)) }
        return out
    }
}
