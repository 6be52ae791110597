import { ContactActivity } from './activity.ts';
import { Contact, ContactEmail, CrmSettings } from './contact.ts';

/** Every entity the module owns (the ORM loads them; migrations/ creates their tables). */
export const entities = [Contact, ContactEmail, CrmSettings, ContactActivity];
