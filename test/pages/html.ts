// Reads a rendered page the way a browser does (parse5, the WHATWG HTML parser), so tests
// assert on elements and attributes, not on strings.
import { parse, type DefaultTreeAdapterTypes } from 'parse5';

type Node = DefaultTreeAdapterTypes.Node;
type Element = DefaultTreeAdapterTypes.Element;

export interface El {
  tag: string;
  attrs: Record<string, string>;
  /** The decoded text below this element. */
  text: string;
  /** Attribute names in source order, to compare structures. */
  attrNames: string[];
  parentTags: string[];
}

function isElement(node: Node): node is Element {
  return 'tagName' in node;
}

function textOf(node: Node): string {
  if (node.nodeName === '#text') return (node as DefaultTreeAdapterTypes.TextNode).value;
  const children = 'childNodes' in node ? node.childNodes : [];
  return children.map(textOf).join('');
}

/** Every element of the document, in document order. */
export function elements(html: string): El[] {
  const out: El[] = [];
  const walk = (node: Node, parents: string[]): void => {
    let next = parents;
    if (isElement(node)) {
      out.push({
        tag: node.tagName,
        attrs: Object.fromEntries(node.attrs.map((a) => [a.name, a.value])),
        attrNames: node.attrs.map((a) => a.name),
        text: textOf(node),
        parentTags: parents,
      });
      next = [...parents, node.tagName];
    }
    if ('childNodes' in node) for (const child of node.childNodes) walk(child, next);
    if (isElement(node) && node.tagName === 'template') walk((node as DefaultTreeAdapterTypes.Template).content, next);
  };
  walk(parse(html), []);
  return out;
}

/** Tag and attribute names only: what the payload must never change. */
export function shape(html: string): string[] {
  return elements(html).map((el) => `${el.tag}[${el.attrNames.join(',')}]`);
}

export const find = (els: El[], predicate: (el: El) => boolean): El[] => els.filter(predicate);

export function one(els: El[], predicate: (el: El) => boolean, what: string): El {
  const found = els.filter(predicate);
  if (found.length !== 1) throw new Error(`expected exactly one ${what}, found ${found.length}`);
  return found[0]!;
}

/** All the text a reader sees (and what a screen reader reads). */
export function bodyText(html: string): string {
  const body = elements(html).find((el) => el.tag === 'body');
  return (body?.text ?? '').replace(/\s+/g, ' ').trim();
}
