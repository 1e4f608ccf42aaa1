// The action's definition under a task's question; one the platform wrote from WordNet (rather
// than a curator) carries a small "from WordNet" marker.
export function showDefinition(element, action) {
  element.textContent = action.definition || '';
  if (action.definition && action.definition_generated) {
    const source = document.createElement('span');
    source.className = 'definition-source';
    source.title = 'Written from the WordNet dictionary; a curator may refine it.';
    source.textContent = 'from WordNet';
    element.append(' ', source);
  }
}
