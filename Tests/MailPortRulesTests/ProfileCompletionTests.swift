import MailPortConfig
import MailPortRules
import Testing

@Test("the profiles shell completion offers are the built-in rule set's")
func completionProfilesAreBuiltin() throws {
    let profiles = try RuleLoader.builtin().profiles.keys.sorted()
    #expect(OptionSpec.builtinProfiles == profiles)
}
