using Hunch.Chat;

namespace Hunch.Cli.Commands;

/// <summary>Renders a conversation with the model's chat template (a plain fallback for base models) and tokenizes it.</summary>
static class ChatPrompt
{
    public static int[] Encode(HunchModel model, IReadOnlyList<(string Role, string Content)> messages, bool addGenerationPrompt = true)
    {
        var list = new List<ChatMessage>(messages.Count);
        foreach (var (role, content) in messages) list.Add(new ChatMessage(role, content));
        return model.EncodeChat(list, addGenerationPrompt);
    }
}
