using Hunch.Grammar;
using static Hunch.Tests.Grammar.GrammarTestSupport;

namespace Hunch.Tests.Grammar;

public class GbnfParserTests
{
    [Theory]
    [InlineData("root ::= \"abc\"", "abc", true)]
    [InlineData("root ::= \"abc\"", "ab", false)]
    [InlineData("root ::= \"abc\"", "abcd", false)]
    [InlineData("root ::= \"a\" | \"b\" \"c\"", "bc", true)]
    [InlineData("root ::= \"a\" | \"b\" \"c\"", "b", false)]
    [InlineData("root ::= (\"a\" | \"b\")* \"c\"", "ababbc", true)]
    [InlineData("root ::= (\"a\" | \"b\")* \"c\"", "c", true)]
    [InlineData("root ::= \"a\"+", "", false)]
    [InlineData("root ::= \"a\"+", "aaaa", true)]
    [InlineData("root ::= \"a\"? \"b\"", "b", true)]
    [InlineData("root ::= \"a\"? \"b\"", "ab", true)]
    [InlineData("root ::= \"a\"? \"b\"", "aab", false)]
    [InlineData("root ::= [a-c]{2,3}", "a", false)]
    [InlineData("root ::= [a-c]{2,3}", "ab", true)]
    [InlineData("root ::= [a-c]{2,3}", "abc", true)]
    [InlineData("root ::= [a-c]{2,3}", "abca", false)]
    [InlineData("root ::= [a-c]{2,3}", "abd", false)]
    [InlineData("root ::= \"x\"{3}", "xxx", true)]
    [InlineData("root ::= \"x\"{3}", "xx", false)]
    [InlineData("root ::= \"x\"{2,}", "xxxxxxx", true)]
    [InlineData("root ::= \"x\"{2,}", "x", false)]
    [InlineData("root ::= [^\"]* \"\\\"\"", "héllo 😀\"", true)]
    [InlineData("root ::= [^\"]* \"\\\"\"", "a\"b\"", false)]
    [InlineData("root ::= [α-ω]+", "βγ", true)]
    [InlineData("root ::= [α-ω]+", "βa", false)]
    [InlineData("root ::= . .", "é😀", true)]
    [InlineData("root ::= . .", "é", false)]
    [InlineData("root ::= \"\\n\\t\\x41\\u00e9\\\\\"", "\n\tAé\\", true)]
    [InlineData("root ::= [\\]\\[-]+", "[]-", true)]
    [InlineData("root ::= item (\",\" item)*\nitem ::= [0-9]+ # a number\n  | \"x\"", "1,x,23", true)]
    [InlineData("root ::= a b\na ::= \"a\"\n  | \"A\"\nb ::=\n  \"b\" |\n  \"B\"", "AB", true)]
    [InlineData("root ::= a\na ::= \"(\" a \")\" | \"\"", "((()))", true)]
    [InlineData("root ::= a\na ::= \"(\" a \")\" | \"\"", "(()", false)]
    public void MatchesAsExpected(string grammar, string text, bool expected)
    {
        var g = GbnfGrammar.Parse(grammar);
        Assert.Equal(expected, Matches(g, text));
    }

    [Fact]
    public void PrefixesAreTrackedByteByByte()
    {
        var g = GbnfGrammar.Parse("root ::= \"{\" [a-z]+ \"}\"");
        Assert.True(IsPrefix(g, "{ab"));
        Assert.False(Matches(g, "{ab"));
        Assert.False(IsPrefix(g, "{a1"));
        // A multi-byte character split across bytes is a valid prefix only while its bytes are valid UTF-8.
        var u = GbnfGrammar.Parse("root ::= [^a]");
        var m = new GrammarMatcher(u, Small("x"));
        Assert.NotNull(m.AdvanceBytes(m.Initial, [0xC3]));
        Assert.Null(m.AdvanceBytes(m.Initial, [0xC3, 0x41]));
        Assert.Null(m.AdvanceBytes(m.Initial, [0x80]));
        Assert.Null(m.AdvanceBytes(m.Initial, [0xED, 0xA0, 0x80]));   // a surrogate is not a scalar value
    }

    [Theory]
    [InlineData("root ::= missing", "never defined")]
    [InlineData("root ::= \"a\"\nroot ::= \"b\"", "defined twice")]
    [InlineData("root ::= \"abc", "unterminated string")]
    [InlineData("root ::= [abc", "unterminated character class")]
    [InlineData("root ::= (\"a\"", "expected ')'")]
    [InlineData("root ::= \"a\"{3,1}", "max below min")]
    [InlineData("root ::= \"a\"{5000}", "limit")]
    [InlineData("root = \"a\"", "'::='")]
    [InlineData("root ::= \"\\q\"", "unknown escape")]
    [InlineData("root ::= [z-a]", "reversed")]
    [InlineData("other ::= \"a\"", "no rule named 'root'")]
    [InlineData("root ::= root \"a\" | \"a\"", "left-recursive")]
    [InlineData("root ::= a\na ::= b \"x\"\nb ::= \"c\"? a", "left-recursive")]
    [InlineData("root ::= (\"a\"?)*", "left-recursive")]
    [InlineData("root ::= \"\\uD800\"", "not a Unicode scalar value")]
    [InlineData("", "no rules")]
    public void BadGrammarsAreRejectedWithClearErrors(string grammar, string message)
    {
        var e = Assert.Throws<GrammarException>(() => GbnfGrammar.Parse(grammar));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void HostileGrammarsAreBounded()
    {
        // Deep nesting of groups.
        string deep = "root ::= " + new string('(', 5000) + "\"a\"" + new string(')', 5000);
        Assert.Contains("nest", Assert.Throws<GrammarException>(() => GbnfGrammar.Parse(deep)).Message);
        // Nested bounded repetitions share their inner rule, so 10^9 characters cost only thousands of elements.
        Assert.True(GbnfGrammar.Parse("root ::= ((\"a\"{1000}){1000}){1000}").RuleCount < 5000);
        // Many wide repetitions side by side do exceed the element bound.
        string wide = "root ::= " + string.Concat(Enumerable.Repeat("[a-z]{1000} ", 600));
        Assert.Contains("elements", Assert.Throws<GrammarException>(() => GbnfGrammar.Parse(wide)).Message);
        // Too long a text.
        var small = new GrammarLimits { MaxGrammarChars = 100 };
        Assert.Throws<GrammarException>(() => GbnfGrammar.Parse("root ::= " + new string('a', 200), limits: small));
        // Exponentially ambiguous: every stack survives, so the count is bounded at match time.
        var few = new GrammarLimits { MaxStacks = 4 };
        var amb = GbnfGrammar.Parse("root ::= \"x\" (\"a\" \"b\" | \"a\" \"c\" | \"a\" \"d\" | \"a\" \"e\" | \"a\" \"f\")", limits: few);
        var m = new GrammarMatcher(amb, Small("a"));
        Assert.Contains("ambiguous", Assert.Throws<GrammarException>(() => m.AdvanceBytes(m.Initial, "x"u8)).Message);
        // A long left-recursive chain is found without recursing on the chain length.
        var sb = new System.Text.StringBuilder("root ::= r0\n");
        for (int i = 0; i < 5000; i++) sb.Append($"r{i} ::= r{i + 1} \"x\" | \"y\"\n");
        sb.Append("r5000 ::= r0");
        Assert.Contains("left-recursive", Assert.Throws<GrammarException>(() => GbnfGrammar.Parse(sb.ToString())).Message);
    }

    [Fact]
    public void RepetitionKeepsStacksFlat()
    {
        // Right recursion through a tail call must not grow the stack: 10000 characters, one stack of depth 0.
        var g = GbnfGrammar.Parse("root ::= \"[\" [a-z]* \"]\"");
        var m = new GrammarMatcher(g, Small("x"));
        var s = m.AdvanceBytes(m.Initial, System.Text.Encoding.ASCII.GetBytes("[" + new string('q', 10000)));
        Assert.NotNull(s);
        Assert.Equal(2, s!.Stacks.Length);   // another letter, or the closing bracket
        foreach (var st in s.Stacks) Assert.True(st.Rest.Parent is null || st.Rest.Parent.Parent is null);
    }
}
