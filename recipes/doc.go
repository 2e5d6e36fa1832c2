// Package recipes defines the training recipe: one versioned YAML schema with TRL's field names,
// validated in one place, and the embedded recipes (one per objective, plus quickstart).
//
// Unknown keys are errors that suggest the closest valid key; --set key=value overrides any
// field.
package recipes
