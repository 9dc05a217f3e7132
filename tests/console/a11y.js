// An accessibility check of the current page, run by the console's browser tests through
// WebDriver (issue 15: labels and contrast). Returns a list of problems, empty when none:
// - the document has a language and a title, and at least one h1;
// - every form control a person fills in has a label (a <label>, aria-label or aria-labelledby);
// - every button and link has text a screen reader can read; every image has alt text;
// - every piece of visible text has a contrast ratio of at least 4.5:1 against the background
//   it sits on (3:1 for large text: 24px, or 18.66px bold), as WCAG 2.1 SC 1.4.3 defines it.
const problems = [];
const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
  (el.className && typeof el.className === "string" ? "." + el.className.trim().replace(/\s+/g, ".") : "");
const visible = (el) => {
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return style.visibility !== "hidden" && style.display !== "none" && box.width > 0 && box.height > 0;
};
if (!document.documentElement.lang) problems.push("the <html> element has no lang");
if (!document.title.trim()) problems.push("the page has no title");
if (!document.querySelector("h1")) problems.push("the page has no h1");
for (const el of document.querySelectorAll("input, select, textarea")) {
  if (el.type === "hidden" || el.type === "submit" || el.type === "button" || !visible(el)) continue;
  const labelled = (el.labels && el.labels.length > 0) || el.getAttribute("aria-label") ||
    el.getAttribute("aria-labelledby");
  if (!labelled) problems.push("form control without a label: " + describe(el));
}
for (const el of document.querySelectorAll("button, a[href]")) {
  if (!visible(el)) continue;
  const text = (el.innerText || "").trim() || el.getAttribute("aria-label") || el.getAttribute("title");
  if (!text) problems.push("no readable text: " + describe(el));
}
for (const el of document.querySelectorAll("img")) {
  if (!el.hasAttribute("alt")) problems.push("image without alt: " + describe(el));
}
const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
const parse = (color) => {
  const m = color.match(/rgba?\(([^)]+)\)/);
  if (!m) return null;
  const [r, g, b, a] = m[1].split(",").map((x) => parseFloat(x));
  return { r, g, b, a: a === undefined ? 1 : a };
};
const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
const background = (el) => {
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const c = parse(getComputedStyle(node).backgroundColor);
    if (c && c.a >= 0.99) return c;
  }
  return { r: 255, g: 255, b: 255, a: 1 };
};
for (const el of document.querySelectorAll("body *")) {
  const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own || !visible(el)) continue;
  const style = getComputedStyle(el);
  const fg = parse(style.color);
  if (!fg) continue;
  const bg = background(el);
  const [l1, l2] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
  const ratio = (l1 + 0.05) / (l2 + 0.05);
  const size = parseFloat(style.fontSize);
  const bold = parseInt(style.fontWeight, 10) >= 700;
  const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  if (ratio < needed) {
    problems.push(`contrast ${ratio.toFixed(2)} < ${needed}: ${describe(el)} "${el.textContent.trim().slice(0, 30)}"`);
  }
}
return problems;
