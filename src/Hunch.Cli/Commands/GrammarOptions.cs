using System.CommandLine;
using Hunch.Grammar;

namespace Hunch.Cli.Commands;

/// <summary>
/// <c>--grammar FILE</c> (GBNF), <c>--json-schema FILE</c> and <c>--json-object</c> for commands that generate:
/// add <see cref="Options"/> to the command, then set <c>GenerationOptions.Constraint</c> to
/// <see cref="CreateConstraint"/>'s result. Grammar errors become one clear line (a <see cref="UserException"/>).
/// </summary>
public static class GrammarOptions
{
    /// <summary>The three options, in the order they should appear.</summary>
    public sealed record Set(Option<string?> Grammar, Option<string?> JsonSchema, Option<bool> JsonObject)
    {
        /// <summary>Adds the options to a command.</summary>
        public void AddTo(Command command)
        {
            command.Options.Add(Grammar);
            command.Options.Add(JsonSchema);
            command.Options.Add(JsonObject);
        }
    }

    /// <summary>Creates the options.</summary>
    public static Set Options() => new(
        new Option<string?>("--grammar") { Description = "constrain output to a GBNF grammar file (llama.cpp syntax, start rule 'root')" },
        new Option<string?>("--json-schema") { Description = "constrain output to JSON valid under a JSON Schema file" },
        new Option<bool>("--json-object") { Description = "constrain output to a JSON object (JSON mode)" });

    /// <summary>The constraint the user asked for, or null. Throws <see cref="UserException"/> for an unreadable
    /// or invalid grammar or schema, or when more than one was given.</summary>
    public static ITokenConstraint? CreateConstraint(ParseResult result, Set options, HunchModel model)
    {
        string? grammarFile = result.GetValue(options.Grammar);
        string? schemaFile = result.GetValue(options.JsonSchema);
        bool jsonObject = result.GetValue(options.JsonObject);
        int given = (grammarFile is null ? 0 : 1) + (schemaFile is null ? 0 : 1) + (jsonObject ? 1 : 0);
        if (given == 0) return null;
        if (given > 1) throw new UserException("give only one of --grammar, --json-schema and --json-object");
        GbnfGrammar grammar;
        try
        {
            if (grammarFile is not null) grammar = GbnfGrammar.Parse(ReadText(grammarFile, "grammar"));
            else if (schemaFile is not null) grammar = JsonSchemaGrammar.Compile(ReadText(schemaFile, "JSON schema"));
            else grammar = JsonSchemaGrammar.AnyJson();
        }
        catch (GrammarException e)
        {
            throw new UserException($"{grammarFile ?? schemaFile ?? "--json-object"}: {e.Message}");
        }
        return new GrammarConstraint(grammar, TokenVocabulary.For(model.Tokenizer));
    }

    static string ReadText(string path, string what)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new UserException($"{what} file '{path}' not found");
        if (info.Length > GrammarLimits.Default.MaxGrammarChars * 4L)
            throw new UserException($"{what} file '{path}' is {info.Length} bytes; too large");
        return File.ReadAllText(path);
    }
}
