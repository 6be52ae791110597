import { Branch, nodeFields, referenceLoader, requirePermission, requireViewer, User, type Loaders, type ResolverContext, type Resolvers } from '@atrium/core';
import type { Contact } from '../entities/contact.ts';
import { readSettings, updateSettings } from '../services/attributes.ts';
import { createContact, deleteContact, findContact, listContacts, mergeContacts, restoreContact, updateContact, type ContactListArgs } from '../services/contacts.ts';

type WithId = { id: string };
type WithInput = { input: unknown };

/** The request's parts a contact mutation uses, once its permission is checked. */
const manage = (context: ResolverContext) => ({ em: context.em, viewer: requirePermission(context, 'crm.contact.manage'), emit: context.emit });

export const contactResolvers: Resolvers = {
  Query: {
    contact: (_root, { id }: WithId, context) => findContact(context.em, requireViewer(context), id),
    contacts: (_root, args: ContactListArgs, context, info) => listContacts(context.em, requireViewer(context), args, nodeFields(info)),
    // Anyone of the company reads the settings: forms need the attribute schema to render.
    crmSettings: (_root, _args, context) => {
      requireViewer(context);
      return readSettings(context.em);
    },
  },
  Mutation: {
    createContact: (_root, { input }: WithInput, context) => createContact(manage(context), input),
    updateContact: (_root, { id, input }: WithId & WithInput, context) => updateContact(manage(context), id, input),
    deleteContact: (_root, { id }: WithId, context) => deleteContact(manage(context), id),
    restoreContact: (_root, { id }: WithId, context) => restoreContact(manage(context), id),
    mergeContacts: (_root, { input }: WithInput, context) => mergeContacts(manage(context), input),
    updateCrmSettings: (_root, { input }: WithInput, context) => updateSettings(context.em, requirePermission(context, 'crm.settings.manage'), input),
  },
};

/** Contacts' references, one query per response level. */
export const contactLoaders: Loaders = {
  Contact: {
    owner: referenceLoader(User, (contact: Contact) => contact.ownerId),
    branch: referenceLoader(Branch, (contact: Contact) => contact.branchId),
  },
};
