/** Small DOM builders. Data always goes in through textContent or attributes, never as markup. */

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'text') element.textContent = String(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) element.append(child);
  }
  return element;
}

/** Creates an HTML element; `text` sets its textContent, every other key is an attribute. */
export function html(tag, attributes = {}, children = []) {
  return build(document.createElement(tag), attributes, children);
}

/** Creates an SVG element with the same conventions as `html`. */
export function svg(tag, attributes = {}, children = []) {
  return build(document.createElementNS(SVG_NS, tag), attributes, children);
}
