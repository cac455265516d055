/** The dangerous characters, each inside a payload that would do something if it were evaluated. */
export const PAYLOADS: Record<string, string> = {
  "${": '${file("/etc/passwd")}',
  "%{": '%{ for x in ["a"] }${x}%{ endfor }',
  '"': 'x", file("/etc/hostname"), "y',
  "`": "`id`",
  "$(": "$(id)",
  ";": "; rm -rf ~",
  newline: "\nextra",
  "}": "}",
};
